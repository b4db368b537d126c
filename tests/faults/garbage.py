#!/usr/bin/env python3
"""garbage.py - a scanner that answers garbage, for the fault suite
(tests/faults/test_faults.sh): it takes the place of spamd or clamd on
their unix socket. Python 3 stdlib only.

  garbage.py --mode spamd|clamd --socket PATH [--max-seconds S]

Listens on PATH (removed first), and for each connection reads what the
client sends (until the request's end: spamd's Content-length body,
clamd's zero-length INSTREAM chunk; or 0.5 s of silence; at most 64 MB)
and answers with one of these, in turn, then closes:
  spamd: a status line with an unknown code; a good status line and a
         "Spam:" header whose score is not a number; a reply cut off in
         the headers; random bytes; nothing (close at once).
  clamd: random bytes with no NUL; "stream: " and a result that is
         neither OK nor FOUND; a FOUND without a name; 70 KB with no
         terminator; nothing.
Runs until SIGTERM or S seconds (default 300). Prints the number of
connections served on exit.
"""
import argparse
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

READ_LIMIT = 64 << 20
IDLE = 0.5

SPAMD_REPLIES = [
    b"SPAMD/1.1 999 EX_WHAT\r\n\r\n",
    b"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: True ; lots / 5.0\r\n\r\n",
    b"SPAMD/1.1 0 EX_OK\r\nSpam: Tr",
    None,                           # random bytes
    b"",                            # nothing
]
CLAMD_REPLIES = [
    None,
    b"stream: MAYBE\0",
    b"stream:  FOUND\0",
    b"x" * 70000,
    b"",
]


def read_spamd(conn):
    """Read a spamd request: headers, then Content-length bytes."""
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < READ_LIMIT:
        chunk = conn.recv(65536)
        if not chunk:
            return
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    want = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            try:
                want = int(line.split(b":", 1)[1])
            except ValueError:
                want = 0
    got = len(body)
    while got < min(want, READ_LIMIT):
        chunk = conn.recv(65536)
        if not chunk:
            return
        got += len(chunk)


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_clamd(conn):
    """Read a clamd INSTREAM request: the command, then chunks up to a zero length."""
    cmd = b""
    while not cmd.endswith(b"\0") and not cmd.endswith(b"\n") and len(cmd) < 64:
        c = conn.recv(1)
        if not c:
            return
        cmd += c
    total = 0
    while total < READ_LIMIT:
        hdr = recv_exact(conn, 4)
        if hdr is None:
            return
        (n,) = struct.unpack("!I", hdr)
        if n == 0:
            return
        if recv_exact(conn, n) is None:
            return
        total += n


def serve(conn, mode, k):
    conn.settimeout(IDLE)
    try:
        try:
            (read_spamd if mode == "spamd" else read_clamd)(conn)
        except socket.timeout:
            pass
        replies = SPAMD_REPLIES if mode == "spamd" else CLAMD_REPLIES
        r = replies[k % len(replies)]
        if r is None:
            r = bytes(random.getrandbits(8) for _ in range(random.randint(1, 2048)))
            if mode == "clamd":
                r = r.replace(b"\0", b"?")
        conn.settimeout(5)
        if r:
            conn.sendall(r)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("spamd", "clamd"), required=True)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--max-seconds", type=float, default=300.0)
    a = ap.parse_args()
    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(a.socket)
    os.chmod(a.socket, 0o666)
    s.listen(128)
    s.settimeout(0.2)
    served = 0
    stop = time.monotonic() + a.max_seconds
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while time.monotonic() < stop:
            try:
                conn, _ = s.accept()
            except socket.timeout:
                continue
            threading.Thread(target=serve, args=(conn, a.mode, served), daemon=True).start()
            served += 1
    finally:
        print(f"garbage {a.mode}: {served} connections", flush=True)
        try:
            os.unlink(a.socket)
        except OSError:
            pass


if __name__ == "__main__":
    main()
