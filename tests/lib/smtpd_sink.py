#!/usr/bin/env python3
"""smtpd_sink.py - a receiving SMTP server for mhkit's shell tests.

    smtpd_sink.py --dir DIR --port PORT [--host 127.0.0.1] [--name NAME]

Listens on HOST:PORT (loopback only) and keeps everything under DIR:

  DIR/ready       written once listening: "PORT PID"
  DIR/msg/N.eml   each accepted message (000001.eml, ...), written to a
                  temp file and renamed, so a reader never sees half of one.
                  The envelope comes first as X-Sink-* header lines, then
                  the message as received (dot-unstuffed, CRLF -> LF):
                      X-Sink-Client: 127.0.0.1:41234
                      X-Sink-Helo: EHLO mx.test
                      X-Sink-Mail-From: <a@example.org>
                      X-Sink-Rcpt-To: <b@example.com>     (one per recipient)
                      X-Sink-Port: 25001
                      Received: ... (the message's own headers) ...
  DIR/events.log  a transcript, one line per event, flushed at once:
                      c3 connect 127.0.0.1:41234
                      c3 > RCPT TO:<b@example.com>
                      c3 < 550 5.1.1 <b@example.com>: User unknown
                      c3 message 000002.eml
                      c3 close
  DIR/rules       optional; read again whenever it changes.  One rule a
                  line, first match wins; a line starting with '#' is a comment:
                      PHASE PATTERN [+SECONDS] REPLY
                  PHASE   connect | helo | mail | rcpt | data | dot
                          (data = the reply to DATA, dot = the reply after
                          the message's final ".")
                  PATTERN an address (case-insensitive), @domain, or *;
                          mail matches the sender, rcpt the recipient,
                          data and dot any accepted recipient, helo the
                          HELO/EHLO name, connect only *
                  +SECONDS wait that long before answering (timeouts)
                  REPLY   "NNN text" (e.g. 550 5.1.1 User unknown), or
                          "close" to drop the connection without a word
                  Example:  rcpt bob@example.com 550 5.1.1 <bob@example.com>: User unknown
                            rcpt @slow.example +30 250 2.1.5 Ok
                            dot * 451 4.3.0 Try again later

Python 3 standard library only.  Stops on SIGTERM (files are complete or
absent: each is renamed into place).
"""

import argparse
import asyncio
import os
import sys

EHLO_KEYWORDS = ["PIPELINING", "SIZE 104857600", "8BITMIME", "ENHANCEDSTATUSCODES"]


class Rules:
    """The rules file, parsed again when its mtime or size changes."""

    def __init__(self, path):
        self.path = path
        self.stamp = None
        self.rules = []

    def load(self):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.stamp, self.rules = None, []
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self.stamp:
            return
        rules = []
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = line.split(None, 2)
                if len(parts) < 3:
                    log_err(f"rules line {lineno}: need PHASE PATTERN REPLY: {line!r}")
                    continue
                phase, pattern, reply = parts
                delay = 0.0
                if reply.startswith("+"):
                    d, _, reply = reply.partition(" ")
                    try:
                        delay = float(d[1:])
                    except ValueError:
                        log_err(f"rules line {lineno}: bad delay {d!r}")
                        continue
                    reply = reply.strip()
                rules.append((phase.lower(), pattern.lower(), delay, reply))
        self.stamp, self.rules = stamp, rules

    def find(self, phase, subjects):
        """First rule for PHASE whose pattern matches one of SUBJECTS: (delay, reply) or None."""
        self.load()
        for r_phase, pattern, delay, reply in self.rules:
            if r_phase != phase:
                continue
            for s in subjects:
                s = (s or "").lower()
                if pattern == "*" or pattern == s or (pattern.startswith("@") and s.endswith(pattern)):
                    return delay, reply
        return None


def log_err(msg):
    print(f"smtpd_sink: {msg}", file=sys.stderr, flush=True)


def angle(arg):
    """The address inside <...> of a MAIL/RCPT argument, or the first word."""
    arg = arg.strip()
    if arg.startswith("<"):
        end = arg.find(">")
        return arg[1:end] if end >= 0 else arg[1:]
    return arg.split()[0] if arg else ""


class Sink:
    def __init__(self, args):
        self.args = args
        self.dir = args.dir
        self.msgdir = os.path.join(self.dir, "msg")
        os.makedirs(self.msgdir, exist_ok=True)
        self.events = open(os.path.join(self.dir, "events.log"), "a", encoding="utf-8", errors="replace")
        self.rules = Rules(os.path.join(self.dir, "rules"))
        self.conns = 0
        self.seq = 0
        for name in os.listdir(self.msgdir):	# keep numbering across restarts
            if name.endswith(".eml") and name[:-4].isdigit():
                self.seq = max(self.seq, int(name[:-4]))
        self.hostname = f"{args.name}.sink.test"

    def event(self, cid, text):
        self.events.write(f"c{cid} {text}\n")
        self.events.flush()

    def store(self, cid, peer, helo, sender, rcpts, data):
        self.seq += 1
        name = f"{self.seq:06d}.eml"
        head = [f"X-Sink-Client: {peer}", f"X-Sink-Helo: {helo}", f"X-Sink-Mail-From: <{sender}>"]
        head += [f"X-Sink-Rcpt-To: <{r}>" for r in rcpts]
        head.append(f"X-Sink-Port: {self.args.port}")
        body = data.replace(b"\r\n", b"\n")
        tmp = os.path.join(self.msgdir, f".tmp-{name}")
        with open(tmp, "wb") as f:
            f.write(("\n".join(head) + "\n").encode("utf-8", "surrogateescape"))
            f.write(body)
        os.rename(tmp, os.path.join(self.msgdir, name))
        self.event(cid, f"message {name}")
        return name

    async def handle(self, reader, writer):
        self.conns += 1
        cid = self.conns
        peer = writer.get_extra_info("peername")
        peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.event(cid, f"connect {peer}")

        async def reply(default, phase=None, subjects=("*",)):
            """Send DEFAULT or what a rule says; False when the rule closes the connection."""
            text = default
            rule = self.rules.find(phase, subjects) if phase else None
            if rule:
                delay, text = rule
                if delay > 0:
                    await asyncio.sleep(delay)
            if text == "close":
                self.event(cid, "< (close)")
                return None
            writer.write(text.encode("utf-8", "surrogateescape") + b"\r\n")
            await writer.drain()
            self.event(cid, "< " + text.replace("\r\n", " / "))
            return text

        helo, sender, rcpts = "", None, []
        try:
            r = await reply(f"220 {self.hostname} ESMTP mhkit test sink {self.args.name}", "connect")
            if r is None or not r.startswith("2"):
                return
            while True:
                line = await reader.readline()
                if not line:
                    break
                cmd = line.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
                self.event(cid, "> " + cmd)
                verb, _, arg = cmd.partition(" ")
                verb = verb.upper()
                if verb in ("EHLO", "HELO"):
                    helo, sender, rcpts = f"{verb} {arg.strip()}", None, []
                    if verb == "EHLO":
                        lines = [self.hostname] + EHLO_KEYWORDS
                        default = "\r\n".join(f"250-{l}" for l in lines[:-1]) + f"\r\n250 {lines[-1]}"
                    else:
                        default = f"250 {self.hostname}"
                    r = await reply(default, "helo", (arg.strip(),))
                elif verb == "MAIL" and arg.upper().startswith("FROM:"):
                    if sender is not None:
                        r = await reply("503 5.5.1 Error: nested MAIL command")
                        continue
                    addr = angle(arg[5:])
                    r = await reply("250 2.1.0 Ok", "mail", (addr,))
                    if r and r.startswith("2"):
                        sender, rcpts = addr, []
                elif verb == "RCPT" and arg.upper().startswith("TO:"):
                    if sender is None:
                        r = await reply("503 5.5.1 Error: need MAIL command")
                        continue
                    addr = angle(arg[3:])
                    r = await reply("250 2.1.5 Ok", "rcpt", (addr,))
                    if r and r.startswith("2"):
                        rcpts.append(addr)
                elif verb == "DATA":
                    if not rcpts:
                        r = await reply("503 5.5.1 Error: no valid recipients" if sender is not None
                                        else "503 5.5.1 Error: need RCPT command")
                        continue
                    r = await reply("354 End data with <CR><LF>.<CR><LF>", "data", rcpts)
                    if r is None:
                        break
                    if not r.startswith("3"):
                        continue
                    data = bytearray()
                    while True:
                        dl = await reader.readline()
                        if not dl:
                            self.event(cid, "lost connection in DATA")
                            return
                        if dl in (b".\r\n", b".\n"):
                            break
                        if dl.startswith(b".."):
                            dl = dl[1:]
                        data += dl
                    self.event(cid, f"> . ({len(data)} bytes)")
                    rule = self.rules.find("dot", rcpts)
                    if rule:
                        r = await reply("", "dot", rcpts)
                        if r and r.startswith("2"):
                            self.store(cid, peer, helo, sender, rcpts, bytes(data))
                    else:
                        name = self.store(cid, peer, helo, sender, rcpts, bytes(data))
                        r = await reply(f"250 2.0.0 Ok: queued as {name[:-4]}")
                    sender, rcpts = None, []
                elif verb == "RSET":
                    sender, rcpts = None, []
                    r = await reply("250 2.0.0 Ok")
                elif verb == "NOOP":
                    r = await reply("250 2.0.0 Ok")
                elif verb == "VRFY":
                    r = await reply("252 2.0.0 Send some mail, I'll try my best")
                elif verb == "QUIT":
                    await reply("221 2.0.0 Bye")
                    break
                else:
                    r = await reply("502 5.5.2 Error: command not recognized")
                if r is None:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            self.event(cid, f"error {type(e).__name__}: {e}")
        finally:
            self.event(cid, "close")
            try:
                writer.close()
                await writer.wait_closed()
            except Exception:
                pass


async def main():
    ap = argparse.ArgumentParser(description="receiving SMTP server for tests")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--name", default="sink")
    args = ap.parse_args()
    # any address of a network namespace of the test's own (isolate.sh) is the test's
    isolated = os.environ.get("MHKIT_ISOLATED") == "1"
    if not isolated and args.host not in ("127.0.0.1", "::1", "localhost") and not args.host.startswith("127."):
        log_err(f"refusing to listen on non-loopback address {args.host}")
        return 2
    sink = Sink(args)
    try:
        server = await asyncio.start_server(sink.handle, args.host, args.port,
                                            reuse_address=True, limit=1 << 20)
    except OSError as e:
        log_err(f"cannot listen on {args.host}:{args.port}: {e}")
        return 2
    ready = os.path.join(args.dir, "ready")
    with open(ready + ".tmp", "w") as f:
        f.write(f"{args.port} {os.getpid()}\n")
    os.rename(ready + ".tmp", ready)
    async with server:
        await server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
