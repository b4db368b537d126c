#!/usr/bin/python3
"""trickle.py - a steady flow of policy requests for new addresses, paced.

usage: trickle.py HOST PORT DOMAIN PREFIX COUNT INTERVAL [WAIT]

Every INTERVAL seconds it opens a new connection to the policy server at
HOST:PORT and sends one RCPT request for PREFIX<n>@DOMAIN (n = 1..COUNT),
without waiting for the answers to those before; one process, one
selectors loop, so it costs next to nothing next to a process per request.
After the last one it waits for the answers still outstanding, WAIT
seconds at most (default 30), then prints one line:

    sent=N answered=N unanswered=N actions=DUNNO:N,... max_ms=N seconds=S

SIGUSR1 makes it stop sending at once and go on to that wait, so a caller
can end the flow when its own measurement ends. Bounded: COUNT requests,
COUNT * INTERVAL + WAIT seconds in all. SIGTERM stops it at once (what is
open is closed). Loopback only in the bench.
"""
import selectors
import signal
import socket
import sys
import time


def main():
    host, port, domain, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    count, interval = int(sys.argv[5]), float(sys.argv[6])
    wait = float(sys.argv[7]) if len(sys.argv) > 7 else 30.0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stop = [False]
    signal.signal(signal.SIGUSR1, lambda *_: stop.__setitem__(0, True))
    sel = selectors.DefaultSelector()
    sent = answered = 0
    actions = {}
    max_ms = 0.0
    t_start = time.monotonic()
    next_t = t_start
    open_ = {}

    def on_read(s):
        nonlocal answered, max_ms
        st = open_[s]
        try:
            b = s.recv(4096)
        except OSError:
            b = b""
        st["buf"] += b
        if b"\n\n" in st["buf"] or not b:
            if b"\n\n" in st["buf"]:
                answered += 1
                line = st["buf"].split(b"\n", 1)[0].decode(errors="replace")
                word = line.split("=", 1)[1].split(" ", 1)[0] if "=" in line else line
                actions[word] = actions.get(word, 0) + 1
                max_ms = max(max_ms, (time.monotonic() - st["t"]) * 1000)
            sel.unregister(s)
            s.close()
            del open_[s]

    t_end = None  # when sending ended
    while sent < count or open_:
        now = time.monotonic()
        if stop[0] and sent < count:
            count = sent
        if sent >= count and t_end is None:
            t_end = now
        if t_end is not None and now > t_end + wait:
            break
        if sent < count and now >= next_t:
            sent += 1
            next_t += interval
            req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
                   "client_address=198.51.100.%d\nclient_name=unknown\nhelo_name=c.test\n"
                   "sender=s%d@sender.test\nrecipient=%s%d@%s\nqueue_id=\n\n"
                   % (1 + sent % 250, sent, prefix, sent, domain)).encode()
            try:
                s = socket.create_connection((host, port), timeout=2)
                s.sendall(req)
                s.setblocking(False)
                open_[s] = {"buf": b"", "t": time.monotonic()}
                sel.register(s, selectors.EVENT_READ)
            except OSError:
                pass
        timeout = max(0.0, next_t - time.monotonic()) if sent < count else 0.2
        for key, _ in sel.select(timeout=min(timeout, 0.2)):
            on_read(key.fileobj)
    print("sent=%d answered=%d unanswered=%d actions=%s max_ms=%.0f seconds=%.1f" % (
        sent, answered, len(open_), ",".join("%s:%d" % kv for kv in sorted(actions.items())) or "-",
        max_ms, time.monotonic() - t_start))
    for s in list(open_):
        s.close()


if __name__ == "__main__":
    main()
