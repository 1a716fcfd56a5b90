#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run a command on a real pseudo-terminal, for qioc's terminal tests.

  ttyrun.py [--serve MODE] [--received FILE] [--output FILE] [STEP]...
            -- COMMAND...

The command runs in a session of its own with the pty as its controlling
terminal and as stdin, stdout and stderr.  With --serve, a TCP server on
a free 127.0.0.1 port runs in this process first, and "{port}" in the
command is replaced by its port.  Server modes:

  brackets   answer every chunk received with "<chunk>"
  reset      like brackets, but the "reset" step closes with an RST

Steps, done in order (TEXT takes \\xNN, \\r, \\n escapes):

  --send TEXT       type TEXT on the terminal
  --expect TEXT     wait until the terminal has shown TEXT
  --received TEXT   wait until the server has received TEXT in all
  --modes           print the terminal's modes: "icanon=0 echo=0 ..."
  --connected       wait until the command has connected to the server
  --kill SIG        send signal SIG (TERM, HUP, INT, ...) to the command
  --close-client    the server closes its connection (end-of-file)
  --reset-client    the server closes its connection with an RST
  --eof-seen        wait until the server has seen end-of-file
  --answer TEXT     the server sends TEXT (after end-of-file, say)
  --pause SECONDS   do nothing for SECONDS: a slow server's delay

At the end it waits for the command (10 s at most), prints "exit N" (or
"signal NAME"), and "restored" when the terminal's settings are those it
had before, else "changed: ..." and exits 1.  --output gets every byte
the terminal showed, --received every byte the server received.
"""

import argparse
import os
import select
import signal
import socket
import struct
import sys
import termios
import threading
import time

DEADLINE = 10.0


def unescape(text):
    return text.encode().decode("unicode_escape").encode("latin-1")


class Server:
    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.eof = False
        self.conn = None
        self.closing = None  # "close" or "reset": the thread does it
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        conn, _ = self.sock.accept()
        conn.settimeout(0.02)
        self.conn = conn
        while self.closing is None:
            try:
                data = conn.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                self.eof = True
                # Keep the connection until told what to do with it.
                while self.closing is None:
                    time.sleep(0.01)
                break
            self.received += data
            try:
                conn.sendall(b"<" + data + b">")
            except OSError:
                break
        if self.closing == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        conn.close()

    def wait_conn(self):
        wait_for(lambda: self.conn is not None, "a client")

    def close(self, how):
        self.wait_conn()
        self.closing = how


def wait_for(cond, what):
    end = time.monotonic() + DEADLINE
    while not cond():
        if time.monotonic() > end:
            sys.exit(f"ttyrun: timed out waiting for {what}")
        time.sleep(0.01)


class Terminal:
    def __init__(self, argv):
        self.master, self.slave = os.openpty()
        self.before = termios.tcgetattr(self.slave)
        self.shown = b""
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.master)
            os.login_tty(os.dup(self.slave))
            os.execvp(argv[0], argv)

    def pump(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return
        try:
            data = os.read(self.master, 4096)
        except OSError:
            return
        self.shown += data

    def expect(self, text):
        end = time.monotonic() + DEADLINE
        while text not in self.shown:
            if time.monotonic() > end:
                sys.exit(f"ttyrun: terminal did not show {text!r}; "
                         f"it showed {self.shown!r}")
            self.pump(0.05)

    def modes(self):
        iflag, oflag, cflag, lflag, ispeed, _, _ = termios.tcgetattr(
            self.slave)
        rates = {getattr(termios, n): n[1:] for n in dir(termios)
                 if n[0] == "B" and n[1:].isdigit()}
        names = [("icanon", lflag, termios.ICANON),
                 ("echo", lflag, termios.ECHO),
                 ("isig", lflag, termios.ISIG),
                 ("icrnl", iflag, termios.ICRNL),
                 ("opost", oflag, termios.OPOST),
                 ("onlcr", oflag, termios.ONLCR)]
        print(" ".join(f"{n}={int(bool(w & b))}" for n, w, b in names),
              f"speed={rates.get(ispeed, ispeed)}")

    def wait(self):
        end = time.monotonic() + DEADLINE
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status
            if time.monotonic() > end:
                os.kill(self.pid, signal.SIGKILL)
                sys.exit("ttyrun: the command did not end; the terminal "
                         f"showed {self.shown[-2000:]!r}")
            self.pump(0.05)


def changes(before, after):
    names = ["iflag", "oflag", "cflag", "lflag", "ispeed", "ospeed", "cc"]
    return [f"{n} {b!r} -> {a!r}"
            for n, b, a in zip(names, before, after) if a != b]


class Step(argparse.Action):
    def __call__(self, parser, ns, values, option_string=None):
        ns.steps.append((option_string, values))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--serve", choices=["brackets"])
    p.add_argument("--received-file")
    p.add_argument("--output")
    p.set_defaults(steps=[])
    for flag in ("--send", "--expect", "--received", "--kill", "--answer",
                 "--pause"):
        p.add_argument(flag, action=Step)
    for flag in ("--modes", "--connected", "--close-client",
                 "--reset-client", "--eof-seen"):
        p.add_argument(flag, action=Step, nargs=0)
    p.add_argument("command", nargs="+")
    args = p.parse_args()

    server = Server(args.serve) if args.serve else None
    argv = [a.replace("{port}", str(server.port)) if server else a
            for a in args.command]
    term = Terminal(argv)
    for step, value in args.steps:
        if step == "--send":
            os.write(term.master, unescape(value))
        elif step == "--expect":
            term.expect(unescape(value))
        elif step == "--received":
            want = unescape(value)
            wait_for(lambda: want in server.received, f"server to get {want!r}")
        elif step == "--modes":
            term.modes()
        elif step == "--kill":
            os.kill(term.pid, getattr(signal, "SIG" + value))
        elif step == "--close-client":
            server.close("close")
        elif step == "--reset-client":
            server.close("reset")
        elif step == "--connected":
            server.wait_conn()
        elif step == "--eof-seen":
            wait_for(lambda: server.eof, "end-of-file at the server")
        elif step == "--answer":
            server.wait_conn()
            server.conn.sendall(unescape(value))
        elif step == "--pause":
            time.sleep(float(value))
    status = term.wait()
    if os.WIFSIGNALED(status):
        print("signal", signal.Signals(os.WTERMSIG(status)).name[3:])
    else:
        print("exit", os.WEXITSTATUS(status))
    if args.output:
        with open(args.output, "wb") as f:
            f.write(term.shown)
    if server and args.received_file:
        with open(args.received_file, "wb") as f:
            f.write(server.received)
    diff = changes(term.before, termios.tcgetattr(term.slave))
    print("restored" if not diff else "changed: " + "; ".join(diff))
    sys.exit(1 if diff else 0)


if __name__ == "__main__":
    main()
