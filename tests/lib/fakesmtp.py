#!/usr/bin/python3
"""fakesmtp.py - a scripted SMTP server for call-ahead tests: well-behaved,
slow or hostile on purpose.

usage: fakesmtp.py --port PORT [--host 127.0.0.1] --mode MODE --log FILE [--delay SECONDS]

It serves every connection the way MODE says, one thread per connection
(at most 1000 at once; more are closed at once), and appends to FILE one
line per event, flushed at once:

    T connect N open=K      (K: connections open now, this one included)
    T cmd N EHLO callahead.test
    T close N open=K

so a test can count RCPTs and the most connections open at once. It
writes "ready" to FILE.ready once it listens. SIGTERM ends it.

Modes (a recipient whose local part starts with "unknown" gets 550 in
every mode that gets as far as RCPT):
  ok           220 banner, multi-line 250 to EHLO, 250 MAIL, 250/550 RCPT, 221 QUIT
  slow         as ok, but each reply comes --delay seconds late
  nobanner     accepts, says nothing
  latebanner   the banner after --delay seconds, then as ok
  bytewise     as ok, each reply sent one byte at a time (--delay between bytes)
  endless      "220-" continuation lines without end
  longline     1 MB of 'x' with no line end
  garbage      binary bytes
  closebanner  the banner, then closes
  ehlo5xx      502 to EHLO, then as ok (HELO works)
  helo5xx      502 to EHLO and to HELO
  mail5xx      550 to MAIL FROM
  rcpt4xx      450 4.2.0 to RCPT
  nasty        550 to RCPT whose text carries CR, ESC sequences, quotes and 8-bit bytes
  nul          550 to RCPT with a NUL byte in the text
  badcode      "2x0" as the banner
  code999      "999" as the banner
  pipelined    the banner and the EHLO reply in one go, before EHLO
  noaccept     listens with a full backlog and never accepts: a connect hangs
"""
import argparse
import os
import socket
import sys
import threading
import time

MAX_CONNS = 1000
lock = threading.Lock()
state = {"open": 0, "n": 0}


def log(f, line):
    with lock:
        f.write("%.3f %s\n" % (time.time(), line))
        f.flush()


def send(c, data, args, bytewise=False):
    if args.mode == "slow":
        time.sleep(args.delay)
    if bytewise:
        for b in data:
            c.sendall(bytes([b]))
            time.sleep(args.delay)
    else:
        c.sendall(data)


def readline(c, buf):
    while b"\n" not in buf[0]:
        d = c.recv(4096)
        if not d:
            return None
        buf[0] += d
        if len(buf[0]) > 65536:
            return None
    line, buf[0] = buf[0].split(b"\n", 1)
    return line.rstrip(b"\r").decode("latin-1")


def serve(c, n, args, f):
    mode = args.mode
    bw = mode == "bytewise"
    buf = [b""]
    try:
        if mode == "nobanner":
            while c.recv(4096):
                pass
            return
        if mode == "latebanner":
            time.sleep(args.delay)
        if mode == "endless":
            end = time.time() + 120
            while time.time() < end:
                c.sendall(b"220-still talking\r\n" * 100)
            return
        if mode == "longline":
            c.sendall(b"220 " + b"x" * (1 << 20))
            while c.recv(4096):
                pass
            return
        if mode == "garbage":
            c.sendall(bytes(range(1, 256)) * 4)
            while c.recv(4096):
                pass
            return
        if mode == "badcode":
            c.sendall(b"2x0 hello\r\n")
        elif mode == "code999":
            c.sendall(b"999 hello\r\n")
        elif mode == "pipelined":
            c.sendall(b"220 fake ESMTP\r\n250-fake\r\n250 8BITMIME\r\n")
        else:
            send(c, b"220 fake.test ESMTP ready\r\n", args, bw)
        if mode == "closebanner":
            return
        while True:
            line = readline(c, buf)
            if line is None:
                return
            log(f, "cmd %d %s" % (n, line))
            verb = line.split(" ", 1)[0].split(":", 1)[0].upper()
            if verb == "EHLO":
                if mode in ("ehlo5xx", "helo5xx"):
                    send(c, b"502 5.5.2 EHLO not implemented\r\n", args, bw)
                else:
                    send(c, b"250-fake.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n", args, bw)
            elif verb == "HELO":
                if mode == "helo5xx":
                    send(c, b"502 5.5.2 go away\r\n", args, bw)
                else:
                    send(c, b"250 fake.test\r\n", args, bw)
            elif verb == "MAIL":
                if mode == "mail5xx":
                    send(c, b"550 5.7.1 sender refused\r\n", args, bw)
                else:
                    send(c, b"250 2.1.0 Ok\r\n", args, bw)
            elif verb == "RCPT":
                addr = line.split(":", 1)[1].strip().strip("<>") if ":" in line else ""
                if mode == "rcpt4xx":
                    send(c, b"450 4.2.0 <%s>: try later\r\n" % addr.encode(), args, bw)
                elif mode == "nasty":
                    send(c, b"550 5.1.1 \"bad\"\rguy \x1b[31mred\x1b[0m caf\xc3\xa9\r\n", args, bw)
                elif mode == "nul":
                    send(c, b"550 5.1.1 bad\x00guy\r\n", args, bw)
                elif addr.startswith("unknown"):
                    send(c, b"550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table\r\n"
                         % addr.encode(), args, bw)
                else:
                    send(c, b"250 2.1.5 Ok\r\n", args, bw)
            elif verb == "QUIT":
                send(c, b"221 2.0.0 Bye\r\n", args, bw)
                return
            else:
                send(c, b"502 5.5.2 Error: command not recognized\r\n", args, bw)
    except OSError:
        pass
    finally:
        # counted closed before the close itself: the peer may connect
        # again as soon as it sees it, before this thread logs
        with lock:
            state["open"] -= 1
            k = state["open"]
        log(f, "close %d open=%d" % (n, k))
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--log", required=True)
    ap.add_argument("--delay", type=float, default=1.0)
    args = ap.parse_args()
    f = open(args.log, "a")
    fam = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.host, args.port))
    if args.mode == "noaccept":
        s.listen(0)
        fill = []
        for _ in range(2):	# fill the accept queue: later SYNs are dropped
            c = socket.socket(fam, socket.SOCK_STREAM)
            c.setblocking(False)
            c.connect_ex((args.host, args.port))
            fill.append(c)
        time.sleep(0.2)
        with open(args.log + ".ready", "w") as r:
            r.write("ready\n")
        while True:
            time.sleep(3600)
    s.listen(1024)
    with open(args.log + ".ready", "w") as r:
        r.write("ready\n")
    while True:
        c, _ = s.accept()
        with lock:
            if state["open"] >= MAX_CONNS:
                c.close()
                continue
            state["open"] += 1
            state["n"] += 1
            n, k = state["n"], state["open"]
        log(f, "connect %d open=%d" % (n, k))
        threading.Thread(target=serve, args=(c, n, args, f), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
