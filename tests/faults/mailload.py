#!/usr/bin/env python3
"""mailload.py - steady SMTP load, recovery probes and the tally of the
fault-injection suite (tests/faults/test_faults.sh). Python 3 stdlib only.

  mailload.py load   --port P --fault NAME --out FILE [--host H] [--src ADDR]
                     [--rate R] [--seconds D] [--concurrency K] [--timeout T]
                     [--mail-from A] [--rcpt A] [--smtps] [--auth USER:PASSWORD]
      Starts R sessions a second for D seconds (R*D messages in all, each
      one session, at most K at once), one message each, with the
      Message-ID <SEQ.NAME@faults.test>. A session that cannot start
      because K are busy waits for a free slot (its lateness is counted);
      one that cannot start before the load's end plus T is recorded as
      "unsent". Every socket operation has a timeout of T seconds (default
      30), a session at most 2*T in all, the whole run at most D + 3*T.
      Appends one line per message to FILE (tab-separated):
        SEQ MSGID OUTCOME STAGE CODE TEXT START_MS DURATION_MS
      OUTCOME: accepted (250 after the final "."), 4xx, 5xx, error (no
      reply: closed, timed out, refused); STAGE: connect, banner, ehlo,
      mail, rcpt, data, dot; TEXT: the reply (or the error), sanitised.
      Prints a one-line summary.

  mailload.py probe  --port P --fault NAME --out FILE [--host H] [--src ADDR]
                     [--interval 0.05] [--max-seconds S] [--timeout T] [--rcpt A]
                     [--armed-file F] [--restored-file F | --since-ms EPOCH_MS]
                     [--overlap K]
  mailload.py policy --port P [--host H] [--rcpt A] [--client ADDR] [same options]
      Recovery probes. probe: messages through Postfix, one per attempt,
      Message-ID <probe-N.NAME@faults.test>, appended to FILE as load does;
      success is 250 after the final ".". policy: a Postfix policy request
      (protocol_state=RCPT) straight to mhpolicyd; success is an action
      that is neither 4xx/DEFER nor a failure to connect. Each waits until
      --armed-file exists (the fault is injected; it can be started early,
      so that Python's start-up is not measured), then tries every
      INTERVAL seconds (each attempt waits for the one before; with
      --overlap K, up to K attempts run at once) until an
      attempt succeeds that ended after the backend's return: the epoch
      ms in --restored-file (written by the test once the backend is
      back) or --since-ms. Prints the ms from that return to the end of
      that attempt, or "never" after S seconds (default 30) of trying.

  --smtps (load, probe): TLS from the first byte (Postfix's wrapper mode,
  port 465), the server's certificate not verified (a test's own);
  --auth USER:PASSWORD: AUTH PLAIN after EHLO (an outbound customer).

  --mail-from (load, probe, policy; default alice-{seq}-{fault}@sender.test):
  "{seq}" is replaced by the message's number, "{fault}" by the fault's
  name, so each message of a run has its own sender
  (Postfix's smtpd caches address resolutions, failed ones included, per
  sender and recipient for the life of the process; one sender for all
  would measure that cache: --mail-from alice@sender.test).

  mailload.py stamp  --file LOG --pid PID --out FILE [--max-seconds S]
      Follows LOG (every 20 ms) while process PID runs (at most S seconds,
      default 3600) and appends its lines, but the per-request ones
      (NOQUEUE, SPF, connected/disconnected), to FILE as "EPOCH_MS LOG LINE":
      the daemons' -f logs carry no time.

  mailload.py tally  --fault NAME --sink DIR [--results FILE]...
      Reads the results files (load and probe) and the sink's stored
      messages (DIR/msg/*.eml) and prints, tab-separated:
        row NAME SENT ACCEPTED DELIVERED LOST DUPLICATED N4XX N5XX NERR UNSENT
            EXTRA PROBES_ACCEPTED
      (SENT, ACCEPTED, DELIVERED, 4xx, 5xx, errors and unsent count the
      load's messages; LOST, DUPLICATED and EXTRA count every message of
      the fault, probes included; EXTRA: delivered although the session
      got a definite 4xx/5xx), then detail lines:
        lost MSGID / dup MSGID COPIES / extra MSGID OUTCOME CODE TEXT /
        reply OUTCOME STAGE CODE COUNT TEXT (each distinct refusal, counted)
"""
import argparse
import base64
import glob
import os
import socket
import ssl
import sys
import threading
import time

DOMAIN = "faults.test"


def now_ms():
    return int(time.time() * 1000)


def clean(s):
    s = "".join(c if 32 <= ord(c) < 127 else "?" for c in s)
    return s.replace("\t", " ")[:200]


class Fail(Exception):
    def __init__(self, outcome, stage, code, text):
        Exception.__init__(self, text)
        self.outcome, self.stage, self.code, self.text = outcome, stage, code, text


TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE


class Session:
    def __init__(self, host, port, src, timeout, deadline, tls=False):
        self.timeout = timeout
        self.deadline = deadline
        self.buf = b""
        self.stage = "connect"
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            self.s.settimeout(self.left())
            if src:
                self.s.bind((src, 0))
            self.s.connect((host, port))
        except OSError as e:
            self.close()
            raise Fail("error", "connect", "", "connect: %s" % (e.strerror or e))
        if tls:
            self.stage = "tls"
            try:
                self.s.settimeout(self.left())
                self.s = TLS.wrap_socket(self.s)
            except (OSError, ssl.SSLError) as e:
                self.close()
                raise Fail("error", "tls", "", "TLS handshake: %s" % e)

    def left(self):
        return max(0.001, min(self.timeout, self.deadline - time.monotonic()))

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def reply(self):
        """(code, text of every line joined) of one reply; Fail on none"""
        lines = []
        while True:
            while b"\n" not in self.buf:
                if time.monotonic() >= self.deadline:
                    raise Fail("error", self.stage, "", "no reply (session deadline)")
                self.s.settimeout(self.left())
                try:
                    chunk = self.s.recv(65536)
                except socket.timeout:
                    raise Fail("error", self.stage, "", "no reply within %gs" % self.timeout)
                except OSError as e:
                    raise Fail("error", self.stage, "", "recv: %s" % (e.strerror or e))
                if not chunk:
                    raise Fail("error", self.stage, "", "connection closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                break
        code = lines[-1][:3]
        return code, clean(" / ".join(lines))

    def send(self, data):
        try:
            self.s.settimeout(self.left())
            self.s.sendall(data)
        except OSError as e:
            raise Fail("error", self.stage, "", "send: %s" % (e.strerror or e))

    def cmd(self, stage, line, want):
        self.stage = stage
        if line is not None:
            self.send(line.encode() + b"\r\n")
        code, text = self.reply()
        if not code.startswith(want):
            kind = "4xx" if code[:1] == "4" else "5xx" if code[:1] == "5" else "error"
            raise Fail(kind, stage, code, text)
        return code, text


def one_message(a, msgid, seq):
    """send one message; returns (outcome, stage, code, text)"""
    deadline = time.monotonic() + 2 * a.timeout
    try:
        s = Session(a.host, a.port, a.src, a.timeout, deadline, getattr(a, "smtps", False))
    except Fail as f:
        return f.outcome, f.stage, f.code, f.text
    try:
        s.cmd("banner", None, "2")
        s.cmd("ehlo", "EHLO load.faults.test", "2")
        if getattr(a, "auth", ""):
            user, _, password = a.auth.partition(":")
            token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
            s.cmd("auth", "AUTH PLAIN " + token, "235")
        sender = a.mail_from.replace("{seq}", str(seq)).replace("{fault}", a.fault)
        s.cmd("mail", "MAIL FROM:<%s>" % sender, "2")
        s.cmd("rcpt", "RCPT TO:<%s>" % a.rcpt, "2")
        s.cmd("data", "DATA", "3")
        body = ("Message-ID: %s\r\nFrom: <%s>\r\nTo: <%s>\r\nSubject: fault %s message %s\r\n"
                "Date: %s\r\n\r\nfault-injection load, message %s\r\n%s\r\n.\r\n") % (
            msgid, sender, a.rcpt, a.fault, seq,
            time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()), seq,
            "x" * 60)
        s.stage = "dot"
        s.send(body.encode())
        code, text = s.cmd("dot", None, "25")
        try:
            s.send(b"QUIT\r\n")
        except Fail:
            pass
        return "accepted", "dot", code, text
    except Fail as f:
        return f.outcome, f.stage, f.code, f.text
    finally:
        s.close()


class Out:
    def __init__(self, path):
        self.f = open(path, "a")
        self.lock = threading.Lock()

    def write(self, seq, msgid, res, t0, dur):
        with self.lock:
            self.f.write("%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n" % ((seq, msgid) + tuple(res) + (t0, dur)))
            self.f.flush()


def cmd_load(a):
    out = Out(a.out)
    n = int(round(a.rate * a.seconds))
    slots = threading.BoundedSemaphore(a.concurrency)
    counts = {}
    clock = threading.Lock()
    late_max = [0.0]
    threads = []

    def run(seq):
        msgid = "<%d.%s@%s>" % (seq, a.fault, DOMAIN)
        t0 = now_ms()
        m0 = time.monotonic()
        try:
            res = one_message(a, msgid, seq)
        finally:
            slots.release()
        out.write(seq, msgid, res, t0, int((time.monotonic() - m0) * 1000))
        with clock:
            counts[res[0]] = counts.get(res[0], 0) + 1

    start = time.monotonic()
    give_up = start + a.seconds + a.timeout
    for seq in range(1, n + 1):
        target = start + (seq - 1) / a.rate
        d = target - time.monotonic()
        if d > 0:
            time.sleep(d)
        if not slots.acquire(timeout=max(0.0, give_up - time.monotonic())):
            for s in range(seq, n + 1):
                out.write(s, "<%d.%s@%s>" % (s, a.fault, DOMAIN),
                          ("unsent", "client", "", "no free session slot before the deadline"), now_ms(), 0)
                counts["unsent"] = counts.get("unsent", 0) + 1
            break
        late_max[0] = max(late_max[0], time.monotonic() - target)
        t = threading.Thread(target=run, args=(seq,), daemon=True)
        t.start()
        threads.append(t)
    end = start + a.seconds + 3 * a.timeout
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    alive = sum(1 for t in threads if t.is_alive())
    print("load %s: %d messages in %.1f s (%s), latest start %.0f ms late%s" % (
        a.fault, n, time.monotonic() - start,
        ", ".join("%s %d" % kv for kv in sorted(counts.items())), late_max[0] * 1000,
        ", %d sessions still running at the deadline" % alive if alive else ""))
    out.f.close()
    return 0


def read_ms(path):
    try:
        with open(path) as f:
            v = f.read().strip()
        return int(v) if v.isdigit() else None
    except OSError:
        return None


def wait_armed(a):
    """wait (bounded) until the fault is injected; then poll"""
    start = time.monotonic()
    while a.armed_file and not os.path.exists(a.armed_file):
        if time.monotonic() - start > a.max_seconds:
            return False
        time.sleep(0.01)
    return True


def poll(a, attempt):
    """call attempt(i) -> ok every INTERVAL; print the ms from the backend's
    return (--restored-file, or --since-ms) to the end of the first
    successful attempt that ended after it; "never" after max-seconds.
    --overlap K > 1: an attempt starts every INTERVAL while fewer than K
    are under way (one that hangs, or that Postfix holds for its retry
    delay, does not hold back the next)"""
    if not wait_armed(a):
        print("never")
        return 1
    if getattr(a, "overlap", 1) > 1:
        return poll_overlapping(a, attempt)
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < a.max_seconds:
        i += 1
        m0 = time.monotonic()
        ok = attempt(i)
        end = now_ms()
        since = a.since_ms or (read_ms(a.restored_file) if a.restored_file else None)
        if ok and since is not None and end >= since:
            print(end - since)
            return 0
        if ok and since is None and not a.restored_file:
            print(int((time.monotonic() - start) * 1000))
            return 0
        d = a.interval - (time.monotonic() - m0)
        if d > 0:
            time.sleep(d)
    print("never")
    return 1


def poll_overlapping(a, attempt):
    start = time.monotonic()
    lock = threading.Lock()
    done = []                   # (ok, end epoch ms) of each finished attempt
    threads = []
    result = [None]

    def run(i):
        ok = attempt(i)
        with lock:
            done.append((ok, now_ms()))

    def check():
        since = a.since_ms or (read_ms(a.restored_file) if a.restored_file else None)
        if since is None:
            return None
        with lock:
            ends = [end for ok, end in done if ok and end >= since]
        return min(ends) - since if ends else None

    i = 0
    while time.monotonic() - start < a.max_seconds and result[0] is None:
        m0 = time.monotonic()
        if sum(1 for t in threads if t.is_alive()) < a.overlap:
            i += 1
            t = threading.Thread(target=run, args=(i,), daemon=True)
            t.start()
            threads.append(t)
        result[0] = check()
        d = a.interval - (time.monotonic() - m0)
        if d > 0:
            time.sleep(d)
    # the attempts under way finish (each is bounded), so that every probe
    # message Postfix accepted is in the results file
    for t in threads:
        t.join(max(0.0, start + a.max_seconds + 2 * a.timeout - time.monotonic()))
    if result[0] is None:
        result[0] = check()
    print("never" if result[0] is None else result[0])
    return 0 if result[0] is not None else 1


def cmd_probe(a):
    out = Out(a.out)

    def attempt(i):
        msgid = "<probe-%d.%s@%s>" % (i, a.fault, DOMAIN)
        m0 = time.monotonic()
        t0 = now_ms()
        res = one_message(a, msgid, "probe-%d" % i)
        out.write("probe-%d" % i, msgid, res, t0, int((time.monotonic() - m0) * 1000))
        return res[0] == "accepted"
    return poll(a, attempt)


def policy_once(a):
    req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
           "client_address=%s\nclient_name=unknown\nreverse_client_name=unknown\n"
           "helo_name=probe.faults.test\nsender=%s\nrecipient=%s\nqueue_id=\n"
           "instance=probe.%d\nsize=0\n\n") % (a.client, a.mail_from.replace("{seq}", "p").replace("{fault}", "policy"), a.rcpt, time.time_ns())
    try:
        s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    except OSError as e:
        return None, "connect: %s" % e
    try:
        s.settimeout(a.timeout)
        s.sendall(req.encode())
        buf = b""
        while b"\n\n" not in buf:
            c = s.recv(4096)
            if not c:
                return None, "closed"
            buf += c
        for line in buf.decode("utf-8", "replace").split("\n"):
            if line.startswith("action="):
                return line[7:], ""
        return None, "no action"
    except OSError as e:
        return None, "%s" % e
    finally:
        s.close()


def cmd_policy(a):
    def attempt(i):
        action, _ = policy_once(a)
        return action is not None and action[:1] != "4" and not action.upper().startswith("DEFER")
    return poll(a, attempt)


def message_id(path):
    try:
        with open(path, "rb") as f:
            for raw in f:
                line = raw.rstrip(b"\r\n")
                if not line:
                    break
                if line[:11].lower() == b"message-id:":
                    return line[11:].strip().decode("utf-8", "replace")
    except OSError:
        pass
    return None


def cmd_tally(a):
    suffix = ".%s@%s>" % (a.fault, DOMAIN)
    delivered = {}
    for p in sorted(glob.glob(os.path.join(a.sink, "msg", "*.eml"))):
        mid = message_id(p)
        if mid and mid.endswith(suffix):
            delivered[mid] = delivered.get(mid, 0) + 1
    load = {}
    probes = {}
    for path in a.results:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) < 8 or not fields[1].endswith(suffix):
                    continue
                (probes if fields[0].startswith("probe-") else load)[fields[1]] = fields
    c = {"accepted": 0, "4xx": 0, "5xx": 0, "error": 0, "unsent": 0}
    for f in load.values():
        c[f[2]] = c.get(f[2], 0) + 1
    accepted = [m for m, f in list(load.items()) + list(probes.items()) if f[2] == "accepted"]
    lost = [m for m in accepted if m not in delivered]
    dups = [(m, n) for m, n in delivered.items() if n > 1]
    extra = [f for m, f in list(load.items()) + list(probes.items())
             if f[2] in ("4xx", "5xx") and m in delivered]
    print("row\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d" % (
        a.fault, len(load) - c["unsent"], c["accepted"],
        sum(1 for m in delivered if not m.startswith("<probe-")), len(lost), len(dups),
        c["4xx"], c["5xx"], c["error"], c["unsent"], len(extra),
        sum(1 for f in probes.values() if f[2] == "accepted")))
    for m in lost:
        print("lost\t%s" % m)
    for m, n in dups:
        print("dup\t%s\t%d" % (m, n))
    for f in extra:
        print("extra\t%s\t%s\t%s\t%s" % (f[1], f[2], f[4], f[5]))
    replies = {}
    for f in list(load.values()) + list(probes.values()):
        if f[2] in ("4xx", "5xx", "error", "unsent"):
            # the reply without the queue ID or client-specific parts varies little
            k = (f[2], f[3], f[4], f[5])
            replies[k] = replies.get(k, 0) + 1
    for k, n in sorted(replies.items(), key=lambda kv: -kv[1]):
        print("reply\t%s\t%s\t%s\t%d\t%s" % (k[0], k[1], k[2], n, k[3]))
    return 0


def cmd_stamp(a):
    """follow FILE while PID runs; copy its lines (but the per-request ones) with the epoch ms"""
    skip = ("NOQUEUE", ": SPF ")
    name = os.path.basename(a.file)
    pos = 0
    deadline = time.monotonic() + a.max_seconds
    with open(a.out, "a") as out:
        while time.monotonic() < deadline:
            alive = os.path.exists("/proc/%d" % a.pid)
            try:
                with open(a.file, "rb") as f:
                    f.seek(pos)
                    data = f.read()
            except OSError:
                data = b""
            if data:
                cut = data.rfind(b"\n") + 1
                pos += cut
                t = now_ms()
                for raw in data[:cut].splitlines():
                    line = raw.decode("utf-8", "replace")
                    if any(k in line for k in skip) or line.endswith("connected"):
                        continue
                    out.write("%d %s %s\n" % (t, name, line))
                out.flush()
            if not alive:
                return 0
            time.sleep(0.02)
    return 0


def main():
    p = argparse.ArgumentParser(description="SMTP load, probes and tally for the fault suite")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("load", "probe", "policy"):
        q = sub.add_parser(name)
        q.add_argument("--host", default="127.0.0.1")
        q.add_argument("--port", type=int, required=True)
        q.add_argument("--timeout", type=float, default=30.0)
        q.add_argument("--mail-from", default="alice-{seq}-{fault}@sender.test")
        q.add_argument("--rcpt", default="bob@relay.test")
        if name != "policy":
            q.add_argument("--fault", required=True)
            q.add_argument("--out", required=True)
            q.add_argument("--src", default="")
            q.add_argument("--smtps", action="store_true")
            q.add_argument("--auth", default="")
        if name == "load":
            q.add_argument("--rate", type=float, default=40.0)
            q.add_argument("--seconds", type=float, default=15.0)
            q.add_argument("--concurrency", type=int, default=100)
        else:
            q.add_argument("--interval", type=float, default=0.05)
            q.add_argument("--overlap", type=int, default=1)
            q.add_argument("--max-seconds", type=float, default=30.0)
            q.add_argument("--since-ms", type=int, default=0)
            q.add_argument("--restored-file", default="")
            q.add_argument("--armed-file", default="")
        if name == "policy":
            q.add_argument("--client", default="192.0.2.25")
    q = sub.add_parser("stamp")
    q.add_argument("--file", required=True)
    q.add_argument("--pid", type=int, required=True)
    q.add_argument("--out", required=True)
    q.add_argument("--max-seconds", type=float, default=3600.0)
    q = sub.add_parser("tally")
    q.add_argument("--fault", required=True)
    q.add_argument("--sink", required=True)
    q.add_argument("--results", action="append", default=[])
    a = p.parse_args()
    if a.cmd in ("load", "probe", "policy") and a.timeout <= 0:
        p.error("--timeout must be positive")
    if a.cmd == "load" and (a.rate <= 0 or a.seconds <= 0 or a.concurrency < 1 or a.rate * a.seconds > 1000000):
        p.error("bad --rate/--seconds/--concurrency")
    return {"load": cmd_load, "probe": cmd_probe, "policy": cmd_policy, "tally": cmd_tally,
            "stamp": cmd_stamp}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
