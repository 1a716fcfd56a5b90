#!/usr/bin/env python3
# sd-launch.py - run a command as systemd socket activation would, without
# systemd: for trying qioc@.service's command line, and for the tests.
#
#   sd-launch.py [-l ADDRESS]... [--fdname NAME[:NAME]...] [--ready FILE]
#                [--] COMMAND [ARGUMENT]...
#
# Each ADDRESS (PORT, HOST:PORT, [V6]:PORT or a unix socket PATH holding a
# "/") is bound and listened on; the sockets become descriptors 3, 4, ...
# and the environment gets LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID
# (sd_listen_fds(3)).  Port 0 picks a free port: --ready FILE receives one
# line "NAME PORT-OR-PATH" per socket, written atomically just before the
# exec, so a caller that waits for FILE to appear can connect at once (the
# sockets already listen; clients queue until COMMAND accepts them).
#
# The exec replaces this process, so the command keeps our pid: that is
# why LISTEN_PID is simply os.getpid().
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import fcntl
import os
import signal
import socket
import sys

SD_LISTEN_FDS_START = 3


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Run COMMAND with listening sockets passed the way "
        "systemd socket activation passes them.")
    parser.add_argument("-l", "--listen", action="append", default=[],
                        metavar="ADDRESS",
                        help="PORT, HOST:PORT, [V6]:PORT or a unix PATH")
    parser.add_argument("--fdname", default="",
                        help="colon-separated names, one per --listen")
    parser.add_argument("--ready", metavar="FILE",
                        help="write 'NAME PORT-OR-PATH' lines here "
                        "just before running COMMAND")
    parser.add_argument("--backlog", type=int, default=128)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.listen or not args.command:
        parser.error("need at least one --listen and a COMMAND")
    return args


def bind_inet(address, backlog):
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "::"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6 and host == "::":
        # Like systemd's default BindIPv6Only=both: v4 and v6 clients.
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((host, int(port)))
    sock.listen(backlog)
    return sock, str(sock.getsockname()[1])


def bind_unix(path, backlog):
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(backlog)
    return sock, path


def bind(address, backlog):
    if "/" in address:
        return bind_unix(address, backlog)
    return bind_inet(address, backlog)


def names_for(count, fdname):
    names = fdname.split(":") if fdname else []
    return [names[i] if i < len(names) else "unknown" for i in range(count)]


def install(socks):
    """Move the sockets to 3, 4, ...: first out of the way (a socket may
    already sit on a target number), then into place, inheritable."""
    high = [fcntl.fcntl(s.fileno(), fcntl.F_DUPFD_CLOEXEC, 100) for s in socks]
    for sock in socks:
        sock.close()
    for i, fd in enumerate(high):
        os.dup2(fd, SD_LISTEN_FDS_START + i, inheritable=True)
        os.close(fd)


def write_ready(path, names, where):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        for name, place in zip(names, where):
            out.write(f"{name} {place}\n")
    os.rename(tmp, path)


def main(argv):
    args = parse_args(argv)
    bound = [bind(a, args.backlog) for a in args.listen]
    names = names_for(len(bound), args.fdname)
    install([s for s, _ in bound])
    env = dict(os.environ)
    env["LISTEN_FDS"] = str(len(bound))
    env["LISTEN_FDNAMES"] = ":".join(names)
    env["LISTEN_PID"] = str(os.getpid())
    if args.ready:
        write_ready(args.ready, names, [w for _, w in bound])
    # Python ignores SIGPIPE, and exec would pass that on; systemd does not.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        os.execvpe(args.command[0], args.command, env)
    except OSError as err:
        print(f"sd-launch.py: {args.command[0]}: {err.strerror}",
              file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
