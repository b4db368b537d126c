#!/usr/bin/python3
"""wire.py - raw client for protocol tests of mhkit's daemons.

  wire.py send HOST PORT DATA [--timeout S] [--chunk N --delay S]
      send DATA (Python escapes: \\n, \\x00, ...; @FILE reads a file),
      optionally N bytes at a time with a delay, then print what came
      back (repr) and how the connection ended: "closed" or "open".
  wire.py idle HOST PORT COUNT SECONDS
      open COUNT connections, hold them SECONDS, print how many the
      server closed meanwhile.
  wire.py policy HOST PORT RECIPIENT [CLIENT] [SENDER]
      one RCPT request, prints the action and the latency in ms.
  wire.py exchange HOST PORT [FILE]
      policy requests from FILE (default stdin: attribute lines, each
      request ended by an empty line), sent one at a time on one
      connection, each after the answer to the one before; prints each
      answer's action line, or "closed" (the server closed instead of
      answering) or "timeout" (no answer in 5 s) and stops there.
  wire.py scatter HOST PORT [FILE]
      the same requests, each on a connection of its own, all opened
      first and then sent at once; prints each answer's action line in
      the order of the requests ("closed", "timeout" as above). The
      wait for the answers is WIRE_TIMEOUT seconds (default 5) in all.
Bounded: every wait has a timeout; nothing leaves loopback.
"""
import os
import socket
import sys
import time


def connect(host, port, timeout):
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_all(s, timeout):
    out = b""
    end = time.time() + timeout
    state = "open"
    while time.time() < end:
        try:
            s.settimeout(max(0.05, end - time.time()))
            b = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            state = "closed"
            break
        if not b:
            state = "closed"
            break
        out += b
    return out, state


def cmd_send(args):
    host, port, data = args[0], args[1], args[2]
    opts = dict(zip(args[3::2], args[4::2]))
    timeout = float(opts.get("--timeout", "3"))
    if data.startswith("@"):
        payload = open(data[1:], "rb").read()
    else:
        payload = data.encode().decode("unicode_escape").encode("latin1")
    s = connect(host, port, timeout)
    chunk = int(opts.get("--chunk", "0"))
    try:
        if chunk:
            for i in range(0, len(payload), chunk):
                s.sendall(payload[i:i + chunk])
                time.sleep(float(opts.get("--delay", "0")))
        else:
            s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        print(repr(b""))
        print("closed")
        return
    out, state = read_all(s, timeout)
    print(repr(out))
    print(state)


def cmd_idle(args):
    host, port, count, seconds = args[0], args[1], int(args[2]), float(args[3])
    conns = []
    for _ in range(count):
        conns.append(connect(host, port, 5))
    time.sleep(seconds)
    closed = 0
    for s in conns:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed += 1
        s.close()
    print(closed)


def cmd_policy(args):
    host, port, rcpt = args[0], args[1], args[2]
    client = args[3] if len(args) > 3 else "192.0.2.1"
    sender = args[4] if len(args) > 4 else "a@sender.test"
    req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
           "client_address=%s\nclient_name=unknown\nhelo_name=client.test\nsender=%s\n"
           "recipient=%s\nqueue_id=TESTQ\n\n" % (client, sender, rcpt)).encode()
    t0 = time.time()
    s = connect(host, port, 5)
    s.sendall(req)
    out = b""
    while not out.endswith(b"\n\n"):
        b = s.recv(4096)
        if not b:
            break
        out += b
    ms = (time.time() - t0) * 1000
    print(out.decode(errors="replace").strip())
    print("%.1f" % ms)


def read_requests(args):
    if len(args) > 2 and args[2] != "-":
        data = open(args[2], "rb").read()
    else:
        data = sys.stdin.buffer.read()
    return [r.strip(b"\n") + b"\n\n" for r in data.split(b"\n\n") if r.strip(b"\n")]


def cmd_scatter(args):
    host, port = args[0], args[1]
    reqs = read_requests(args)
    conns = [connect(host, port, 5) for _ in reqs]
    for s, req in zip(conns, reqs):
        s.sendall(req)
    end = time.time() + float(os.environ.get("WIRE_TIMEOUT", "5"))
    for s in conns:
        buf = b""
        while b"\n\n" not in buf and time.time() < end:
            try:
                s.settimeout(max(0.05, end - time.time()))
                b = s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                b = b""
            if not b:
                break
            buf += b
        if b"\n\n" in buf:
            print(buf.split(b"\n\n", 1)[0].decode(errors="replace"))
        else:
            print("timeout" if time.time() >= end else "closed")
        s.close()


def cmd_exchange(args):
    host, port = args[0], args[1]
    reqs = read_requests(args)
    s = connect(host, port, 5)
    buf = b""
    for req in reqs:
        try:
            s.sendall(req)
        except (BrokenPipeError, ConnectionResetError):
            print("closed")
            return
        while b"\n\n" not in buf:
            try:
                b = s.recv(65536)
            except socket.timeout:
                print("timeout")
                return
            except ConnectionResetError:
                b = b""
            if not b:
                print("closed")
                return
            buf += b
        reply, buf = buf.split(b"\n\n", 1)
        print(reply.decode(errors="replace"))
        sys.stdout.flush()
    s.close()


if __name__ == "__main__":
    {"send": cmd_send, "idle": cmd_idle, "policy": cmd_policy,
     "exchange": cmd_exchange, "scatter": cmd_scatter}[sys.argv[1]](sys.argv[2:])
