#!/usr/bin/python3
# tests/lib/dnsd.py - a small authoritative DNS server for mhkit's tests.
#
#   dnsd.py --zone FILE --port N [--listen ADDR]... [--log FILE] [--pidfile FILE]
#   dnsd.py --check FILE            validate a zone file, print its errors
#   dnsd.py --probe ADDR PORT       ask a running dnsd its generation (exit 0 if it answers)
#
# Serves one zone file of ours over UDP and TCP on each --listen address
# (default 127.0.0.1; ::1 works too).  It runs in one thread on one select
# loop; tests/lib/dns.sh starts and stops it.  Uses Debian's python3-dnslib
# for the wire format, so run it with /usr/bin/python3.
#
# Zone file: one record a line, NAME [TTL] TYPE DATA; names are absolute
# (the trailing dot is optional) and case-insensitive; TTL defaults to 300;
# '#' starts a comment outside quotes.
#
#   example.com        ZONE                 we are authoritative for it (SOA synthesised)
#   example.com   60   MX    10 mx1.example.com.
#   mx1.example.com    A     192.0.2.1
#   mx1.example.com    AAAA  2001:db8::1
#   example.com        TXT   "v=spf1 ip4:192.0.2.0/24 " "-all"
#   1.2.0.192.in-addr.arpa PTR mx1.example.com.
#   www.example.com    CNAME mx1.example.com.
#   ns.example.com     NS    ns1.example.com.
#   *.any.example.com  A     127.0.0.2      wildcard: any name below without lines of its own
#   broken.example.com SERVFAIL [TYPE]      answer SERVFAIL (to TYPE only, if given)
#   silent.example.com TIMEOUT  [TYPE]      drop the query, never answer
#   closed.example.com REFUSED  [TYPE]      answer REFUSED
#   slow.example.com   DELAY MS [TYPE]      answer normally, MS milliseconds late
#
# Answers: known name and type -> the records (AA set); known name, no
# record of that type -> NOERROR/NODATA with the zone's SOA in authority;
# unknown name -> NXDOMAIN with the SOA.  A name outside every ZONE belongs
# to an implicit root zone, so it gets NXDOMAIN too (the test world is
# closed: nothing is forwarded).  Answers too big for UDP are truncated
# (TC) so the client retries over TCP.
#
# Signals: SIGHUP re-reads the zone file (a bad file keeps the old data and
# logs why), SIGTERM/SIGINT stop it cleanly (pid file removed, exit 0).
#
# Log (--log), one line per event, flushed at once:
#   T load gen=N ok names=N records=N zones=N      |  T load gen=N error: FILE:LINE: why
#   T ready addr=127.0.0.1 port=N                  (one per address, after binding)
#   T query proto=udp client=127.0.0.1#40000 id=N class=IN name=mx.example.com type=MX rcode=NOERROR answers=2
#   T bad proto=udp client=... len=N error=...     (malformed packet, ignored)
#   T stop
# Names in query lines are lower case without the trailing dot; a dropped
# (TIMEOUT) query logs rcode=DROPPED.  The line is written before the answer
# is sent, so a client that got an answer can count its query at once.
#
# Internal: CHAOS-class TXT "generation.dnsd." answers the zone generation
# (1 after start, +1 per successful reload); dns.sh uses it to know that
# new data is served.
#
# Limits (named below): zone file size and line length, TCP connections,
# TCP message size and idle time.  Malformed input never stops the server.

import argparse
import heapq
import ipaddress
import os
import random
import selectors
import shlex
import signal
import socket
import struct
import sys
import time

from dnslib import (AAAA, CLASS, CNAME, DNSHeader, DNSRecord, EDNS0, MX, NS,
                    PTR, QTYPE, RCODE, RR, SOA, TXT, A, DNSLabel)

ZONE_MAX_BYTES = 4 * 1024 * 1024	# a zone file larger than this is an error
ZONE_MAX_LINE = 4096			# bytes in one zone line
TXT_MAX_STRING = 255			# bytes in one TXT character-string
DELAY_MAX_MS = 60000			# longest DELAY
TCP_MAX_CONNS = 64			# open TCP connections; more are closed at once
TCP_IDLE_SECONDS = 10			# an idle TCP connection is closed after this
TCP_SEND_SECONDS = 2			# time to hand one answer to a TCP client
UDP_MAX_PAYLOAD = 4096			# largest EDNS UDP answer we send
CNAME_MAX_HOPS = 8			# CNAME chains followed inside our data
DEFAULT_TTL = 300
NEG_TTL = 5				# SOA minimum: how long NXDOMAIN/NODATA may be cached

RECORD_TYPES = ("A", "AAAA", "MX", "TXT", "PTR", "CNAME", "NS")
SPECIALS = ("SERVFAIL", "TIMEOUT", "REFUSED", "DELAY")


class ZoneError(Exception):
    pass


def norm(name):
    """norm - lower case, no trailing dot; the root is ''"""
    return name.strip().rstrip(".").lower()


def check_name(name, where):
    """check_name - a valid owner or target name (wildcard label allowed first)"""
    n = norm(name)
    if len(n) > 253:
        raise ZoneError("%s: name longer than 253 bytes: %s" % (where, name))
    for label in n.split(".") if n else []:
        if not label or len(label) > 63:
            raise ZoneError("%s: bad label in name: %s" % (where, name))
        if any(c.isspace() or not c.isprintable() for c in label):
            raise ZoneError("%s: bad character in name: %s" % (where, name))
    return n


def parse_rdata(rtype, args, where):
    """parse_rdata - the dnslib rdata object for TYPE and its arguments"""
    def one():
        if len(args) != 1:
            raise ZoneError("%s: %s takes one value" % (where, rtype))
        return args[0]
    try:
        if rtype == "A":
            return A(str(ipaddress.IPv4Address(one())))
        if rtype == "AAAA":
            return AAAA(str(ipaddress.IPv6Address(one())))
        if rtype == "MX":
            if len(args) != 2 or not args[0].isdigit() or int(args[0]) > 65535:
                raise ZoneError("%s: MX wants PREFERENCE NAME, e.g. 10 mx1.example.com." % where)
            return MX(check_name(args[1], where) + ".", int(args[0]))
        if rtype in ("PTR", "CNAME", "NS"):
            target = check_name(one(), where) + "."
            return {"PTR": PTR, "CNAME": CNAME, "NS": NS}[rtype](target)
        if rtype == "TXT":
            if not args:
                raise ZoneError("%s: TXT needs at least one string" % where)
            strings = [a.encode("utf-8") for a in args]
            for s in strings:
                if len(s) > TXT_MAX_STRING:
                    raise ZoneError("%s: TXT string longer than %d bytes: split it into several quoted strings"
                                    % (where, TXT_MAX_STRING))
            return TXT(strings)
    except ValueError as e:
        raise ZoneError("%s: bad %s data: %s" % (where, rtype, e))
    raise ZoneError("%s: unknown type %s" % (where, rtype))


class Zone:
    """Zone - the data of one zone file: records, specials, zones, wildcards"""

    def __init__(self):
        self.records = {}	# name -> [(rtype, ttl, rdata)]
        self.specials = {}	# name -> [(kind, qtype or None, arg)]
        self.apexes = set()	# declared zones
        self.neg_ttl = {}	# apex -> negative TTL
        self.existing = set()	# names that exist: owners and their ancestors (empty non-terminals)
        self.count = 0

    def load(self, path):
        """load - read PATH; raises ZoneError naming the file and line"""
        try:
            size = os.path.getsize(path)
            if size > ZONE_MAX_BYTES:
                raise ZoneError("%s: larger than %d bytes" % (path, ZONE_MAX_BYTES))
            with open(path, "rb") as f:
                raw = f.read(ZONE_MAX_BYTES + 1)
        except OSError as e:
            raise ZoneError("%s: %s" % (path, e.strerror or e))
        for num, line in enumerate(raw.split(b"\n"), 1):
            where = "%s:%d" % (path, num)
            if len(line) > ZONE_MAX_LINE:
                raise ZoneError("%s: line longer than %d bytes" % (where, ZONE_MAX_LINE))
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raise ZoneError("%s: not UTF-8" % where)
            try:
                lex = shlex.shlex(text, posix=True)
                lex.whitespace_split = True
                lex.commenters = "#"
                tokens = list(lex)
            except ValueError as e:
                raise ZoneError("%s: %s" % (where, e))
            if tokens:
                self.add_line(tokens, where)
        for name in list(self.records) + list(self.specials):
            labels = name.split(".")
            for i in range(len(labels)):
                self.existing.add(".".join(labels[i:]))
        self.existing.add("")
        for name, rrs in self.records.items():
            types = {t for t, _, _ in rrs}
            if "CNAME" in types and len(types) > 1:
                raise ZoneError("%s: %s has a CNAME and other data" % (path, name))

    def add_line(self, tokens, where):
        """add_line - one tokenised zone line"""
        name = check_name(tokens[0], where)
        rest = tokens[1:]
        ttl = None
        if rest and rest[0].isdigit():
            ttl = int(rest[0])
            if ttl > 2147483647:
                raise ZoneError("%s: TTL too large" % where)
            rest = rest[1:]
        if not rest:
            raise ZoneError("%s: no type" % where)
        kind = rest[0].upper()
        args = rest[1:]
        if kind == "ZONE":
            if args:
                raise ZoneError("%s: ZONE takes no data" % where)
            self.apexes.add(name)
            self.neg_ttl[name] = NEG_TTL if ttl is None else ttl
            return
        if kind in SPECIALS:
            arg = None
            if kind == "DELAY":
                if not args or not args[0].isdigit() or int(args[0]) > DELAY_MAX_MS:
                    raise ZoneError("%s: DELAY wants milliseconds (at most %d)" % (where, DELAY_MAX_MS))
                arg = int(args[0])
                args = args[1:]
            qtype = None
            if args:
                qtype = args[0].upper()
                if len(args) > 1 or not hasattr(QTYPE, qtype):
                    raise ZoneError("%s: %s takes at most one query type" % (where, kind))
            self.specials.setdefault(name, []).append((kind, qtype, arg))
            return
        if kind not in RECORD_TYPES:
            raise ZoneError("%s: unknown type %s (want %s, ZONE or %s)"
                            % (where, kind, " ".join(RECORD_TYPES), " ".join(SPECIALS)))
        rdata = parse_rdata(kind, args, where)
        ttl = DEFAULT_TTL if ttl is None else ttl
        self.records.setdefault(name, []).append((kind, ttl, rdata))
        self.count += 1

    def apex_of(self, name):
        """apex_of - the longest declared zone holding NAME, else the root ''"""
        labels = name.split(".") if name else []
        for i in range(len(labels) + 1):
            cand = ".".join(labels[i:])
            if cand in self.apexes:
                return cand
        return ""

    def soa(self, apex):
        """soa - the synthesised SOA record of APEX"""
        neg = self.neg_ttl.get(apex, NEG_TTL)
        owner = apex + "." if apex else "."
        return RR(owner, QTYPE.SOA, ttl=neg,
                  rdata=SOA("ns.dnsd.invalid.", "hostmaster.dnsd.invalid.",
                            (1, 3600, 600, 86400, neg)))

    def find(self, name):
        """find - the node answering NAME: itself, a wildcard, or None (NXDOMAIN)"""
        if name in self.existing:
            return name
        labels = name.split(".")
        for i in range(1, len(labels) + 1):
            parent = ".".join(labels[i:])
            wild = "*." + parent if parent else "*"
            if wild in self.records or wild in self.specials:
                return wild
            if parent in self.existing:
                return None
        return None


class Server:
    """Server - sockets, the select loop, answers, the log"""

    def __init__(self, opts):
        self.opts = opts
        self.zone = None
        self.generation = 0
        self.sel = selectors.DefaultSelector()
        self.udp = []
        self.tcp_listeners = []
        self.conns = {}		# socket -> {"buf": bytes, "last": time}
        self.pending = []	# heap of (due, seq, sock, addr, bytes) for DELAY
        self.seq = 0
        self.stopping = False
        self.hup = False
        self.logf = open(opts.log, "a", encoding="utf-8") if opts.log else None

    def log(self, text):
        """log - one line with a timestamp, flushed"""
        line = "%.3f %s\n" % (time.time(), text)
        if self.logf:
            self.logf.write(line)
            self.logf.flush()

    def load(self):
        """load - (re)read the zone; True if the new data is in use"""
        zone = Zone()
        try:
            zone.load(self.opts.zone)
        except ZoneError as e:
            # the old data (if any) stays in use under its old generation
            self.log("load gen=%d error: %s" % (self.generation, e))
            print("dnsd: %s" % e, file=sys.stderr)
            return False
        self.zone = zone
        self.generation += 1
        self.log("load gen=%d ok names=%d records=%d zones=%d" % (
            self.generation, len(set(zone.records) | set(zone.specials)), zone.count, len(zone.apexes)))
        return True

    def bind(self):
        """bind - UDP and TCP sockets on every address"""
        for addr in self.opts.listen:
            fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
            u = socket.socket(fam, socket.SOCK_DGRAM)
            t = socket.socket(fam, socket.SOCK_STREAM)
            if fam == socket.AF_INET6:
                u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            # SO_REUSEADDR on TCP only: on UDP it would let a second server share the port
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            u.bind((addr, self.opts.port))
            t.bind((addr, self.opts.port))
            t.listen(16)
            u.setblocking(False)
            t.setblocking(False)
            self.sel.register(u, selectors.EVENT_READ, "udp")
            self.sel.register(t, selectors.EVENT_READ, "listen")
            self.udp.append(u)
            self.tcp_listeners.append(t)

    # --- answers ---------------------------------------------------------------

    def answer(self, data, proto, client):
        """answer - the reply bytes for one query, or None (drop); delay in ms"""
        try:
            req = DNSRecord.parse(data)
        except Exception as e:	# dnslib raises several kinds on bad input
            self.log("bad proto=%s client=%s len=%d error=%s" % (
                proto, client, len(data), str(e).replace(" ", "_")[:80]))
            return None, 0
        if req.header.qr:
            self.log("bad proto=%s client=%s len=%d error=not_a_query" % (proto, client, len(data)))
            return None, 0
        reply = DNSRecord(DNSHeader(id=req.header.id, qr=1, aa=1, ra=0, rd=req.header.rd,
                                    opcode=req.header.opcode), q=req.q if req.questions else None)
        edns = [r for r in req.ar if r.rtype == QTYPE.OPT]
        if edns:
            reply.add_ar(EDNS0(udp_len=1232))
        limit = 512
        if edns:
            limit = max(512, min(edns[0].rclass, UDP_MAX_PAYLOAD))
        name, qtype_s, qclass_s = "-", "-", "-"
        delay = 0
        if req.header.opcode != 0:
            reply.header.rcode = RCODE.NOTIMP
        elif len(req.questions) != 1:
            reply.header.rcode = RCODE.FORMERR
        else:
            q = req.questions[0]
            name = norm(str(q.qname)) or "."
            qtype_s = QTYPE.get(q.qtype, str(q.qtype))
            qclass_s = CLASS.get(q.qclass, str(q.qclass))
            if q.qclass == CLASS.CH:
                self.answer_chaos(reply, q)
            elif q.qclass != CLASS.IN:
                reply.header.rcode = RCODE.REFUSED
            else:
                verdict, delay = self.answer_in(reply, q)
                if verdict == "DROP":
                    self.log("query proto=%s client=%s id=%d class=%s name=%s type=%s rcode=DROPPED answers=0"
                             % (proto, client, req.header.id, qclass_s, name, qtype_s))
                    return None, 0
        self.log("query proto=%s client=%s id=%d class=%s name=%s type=%s rcode=%s answers=%d%s"
                 % (proto, client, req.header.id, qclass_s, name, qtype_s,
                    RCODE.get(reply.header.rcode, str(reply.header.rcode)), len(reply.rr),
                    " delay=%d" % delay if delay else ""))
        out = reply.pack()
        if proto == "udp" and len(out) > limit:
            short = DNSRecord(DNSHeader(id=req.header.id, qr=1, aa=1, tc=1, rd=req.header.rd,
                                        rcode=reply.header.rcode), q=req.q)
            if edns:
                short.add_ar(EDNS0(udp_len=1232))
            out = short.pack()
        return out, delay

    def answer_chaos(self, reply, q):
        """answer_chaos - generation.dnsd. TXT CH: the zone generation"""
        if norm(str(q.qname)) == "generation.dnsd" and q.qtype == QTYPE.TXT:
            reply.add_answer(RR(q.qname, QTYPE.TXT, CLASS.CH, 0, TXT(str(self.generation))))
        else:
            reply.header.rcode = RCODE.REFUSED

    def answer_in(self, reply, q):
        """answer_in - fill REPLY for an IN question; returns (verdict, delay_ms)"""
        zone = self.zone
        name = norm(str(q.qname))
        qtype = QTYPE.get(q.qtype, str(q.qtype))
        node = zone.find(name)
        delay = 0
        if node is not None:
            for kind, stype, arg in zone.specials.get(node, []):
                if stype is not None and stype != qtype:
                    continue
                if kind == "TIMEOUT":
                    return "DROP", 0
                if kind == "SERVFAIL":
                    reply.header.rcode = RCODE.SERVFAIL
                    return "ANSWER", delay
                if kind == "REFUSED":
                    reply.header.rcode = RCODE.REFUSED
                    return "ANSWER", delay
                if kind == "DELAY":
                    delay = max(delay, arg)
        owner = q.qname
        for _hop in range(CNAME_MAX_HOPS):
            if node is None:
                reply.header.rcode = RCODE.NXDOMAIN
                reply.add_auth(zone.soa(zone.apex_of(name)))
                return "ANSWER", delay
            rrs = zone.records.get(node, [])
            if qtype == "SOA" and node == name and (name in zone.apexes or name == ""):
                reply.add_answer(zone.soa(name))
                return "ANSWER", delay
            hits = [r for r in rrs if r[0] == qtype or qtype == "ANY"]
            if hits:
                for rtype, ttl, rdata in hits:
                    reply.add_answer(RR(owner, getattr(QTYPE, rtype), ttl=ttl, rdata=rdata))
                return "ANSWER", delay
            cname = [r for r in rrs if r[0] == "CNAME"]
            if not cname:
                reply.add_auth(zone.soa(zone.apex_of(name)))
                return "ANSWER", delay
            _, ttl, rdata = cname[0]
            reply.add_answer(RR(owner, QTYPE.CNAME, ttl=ttl, rdata=rdata))
            name = norm(str(rdata.label))
            owner = DNSLabel(name + ".")
            node = zone.find(name)
        reply.header.rcode = RCODE.SERVFAIL	# CNAME loop
        return "ANSWER", delay

    # --- I/O --------------------------------------------------------------------

    def queue(self, delay, sock, addr, out):
        """queue - send OUT now, or DELAY ms later"""
        if not delay:
            self.send(sock, addr, out)
            return
        self.seq += 1
        heapq.heappush(self.pending, (time.monotonic() + delay / 1000.0, self.seq, sock, addr, out))

    def send(self, sock, addr, out):
        """send - one answer over UDP (addr set) or TCP"""
        try:
            if addr is not None:
                sock.sendto(out, addr)
            elif sock in self.conns:
                sock.sendall(struct.pack("!H", len(out)) + out)
        except OSError:
            if addr is None:
                self.close(sock)

    def on_udp(self, sock):
        try:
            data, addr = sock.recvfrom(65535)
        except OSError:
            return
        client = "%s#%d" % (addr[0], addr[1])
        if len(data) < 12:
            self.log("bad proto=udp client=%s len=%d error=short" % (client, len(data)))
            return
        out, delay = self.answer(data, "udp", client)
        if out is not None:
            self.queue(delay, sock, addr, out)

    def on_accept(self, lsock):
        try:
            conn, _ = lsock.accept()
        except OSError:
            return
        if len(self.conns) >= TCP_MAX_CONNS:
            conn.close()
            return
        conn.settimeout(TCP_SEND_SECONDS)
        self.conns[conn] = {"buf": b"", "last": time.monotonic()}
        self.sel.register(conn, selectors.EVENT_READ, "tcp")

    def on_tcp(self, conn):
        st = self.conns.get(conn)
        if st is None:
            return
        try:
            data = conn.recv(65537)
        except (OSError, socket.timeout):
            data = b""
        if not data:
            self.close(conn)
            return
        st["buf"] += data
        st["last"] = time.monotonic()
        try:
            peer = conn.getpeername()
            client = "%s#%d" % (peer[0], peer[1])
        except OSError:
            client = "?"
        while len(st["buf"]) >= 2:
            (n,) = struct.unpack("!H", st["buf"][:2])
            if n < 12:
                self.log("bad proto=tcp client=%s len=%d error=short" % (client, n))
                self.close(conn)
                return
            if len(st["buf"]) < 2 + n:
                break
            msg, st["buf"] = st["buf"][2:2 + n], st["buf"][2 + n:]
            out, delay = self.answer(msg, "tcp", client)
            if out is not None:
                self.queue(delay, conn, None, out)
            if conn not in self.conns:
                return

    def close(self, conn):
        if conn in self.conns:
            del self.conns[conn]
            try:
                self.sel.unregister(conn)
            except (KeyError, ValueError):
                pass
        try:
            conn.close()
        except OSError:
            pass

    def run(self):
        """run - the loop: until SIGTERM"""
        rfd, wfd = socket.socketpair()
        rfd.setblocking(False)
        wfd.setblocking(False)
        signal.set_wakeup_fd(wfd.fileno())
        self.sel.register(rfd, selectors.EVENT_READ, "wake")
        signal.signal(signal.SIGHUP, self.on_signal)
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        for addr in self.opts.listen:
            self.log("ready addr=%s port=%d" % (addr, self.opts.port))
        while not self.stopping:
            now = time.monotonic()
            timeout = 0.5
            if self.pending:
                timeout = max(0.0, min(timeout, self.pending[0][0] - now))
            for key, _ in self.sel.select(timeout):
                try:
                    if key.data == "udp":
                        self.on_udp(key.fileobj)
                    elif key.data == "listen":
                        self.on_accept(key.fileobj)
                    elif key.data == "tcp":
                        self.on_tcp(key.fileobj)
                    elif key.data == "wake":
                        try:
                            while rfd.recv(512):
                                pass
                        except OSError:
                            pass
                except Exception as e:	# never die on one client's input
                    self.log("bad error=%s" % str(e).replace(" ", "_")[:120])
                if self.stopping:
                    break
            if self.hup:
                self.hup = False
                self.load()
            now = time.monotonic()
            while self.pending and self.pending[0][0] <= now:
                _, _, sock, addr, out = heapq.heappop(self.pending)
                self.send(sock, addr, out)
            for conn, st in list(self.conns.items()):
                if now - st["last"] > TCP_IDLE_SECONDS:
                    self.close(conn)
        self.log("stop")

    def on_signal(self, signum, _frame):
        if signum == signal.SIGHUP:
            self.hup = True
        else:
            self.stopping = True


def probe(addr, port):
    """probe - ask generation.dnsd. CH TXT over UDP; print it; 0 if answered"""
    q = DNSRecord.question("generation.dnsd.", "TXT", "CH")
    q.header.id = random.randint(1, 65535)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        try:
            s.sendto(q.pack(), (addr, port))
            data, _ = s.recvfrom(65535)
            r = DNSRecord.parse(data)
        except Exception as e:
            print("probe: %s" % e, file=sys.stderr)
            return 1
    if r.header.id != q.header.id or not r.rr:
        print("probe: unexpected answer", file=sys.stderr)
        return 1
    print(b"".join(r.rr[0].rdata.data).decode())
    return 0


def main():
    p = argparse.ArgumentParser(description="authoritative DNS server for mhkit tests")
    p.add_argument("--zone", help="zone file")
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--listen", action="append", help="address (repeatable; default 127.0.0.1)")
    p.add_argument("--log", help="query and event log")
    p.add_argument("--pidfile")
    p.add_argument("--check", metavar="FILE", help="validate FILE and exit")
    p.add_argument("--probe", nargs=2, metavar=("ADDR", "PORT"))
    opts = p.parse_args()
    if opts.probe:
        return probe(opts.probe[0], int(opts.probe[1]))
    if opts.check:
        try:
            z = Zone()
            z.load(opts.check)
        except ZoneError as e:
            print("dnsd: %s" % e, file=sys.stderr)
            return 1
        return 0
    if not opts.zone:
        p.error("--zone is required")
    opts.listen = opts.listen or ["127.0.0.1"]
    srv = Server(opts)
    if not srv.load():
        return 1
    try:
        srv.bind()
    except OSError as e:
        msg = "cannot listen on %s port %d: %s" % (",".join(opts.listen), opts.port, e.strerror or e)
        srv.log("error " + msg)
        print("dnsd: " + msg, file=sys.stderr)
        return 1
    if opts.pidfile:
        with open(opts.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    try:
        srv.run()
    finally:
        if opts.pidfile:
            try:
                os.unlink(opts.pidfile)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
