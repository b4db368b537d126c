#!/bin/bash
# test_open_relay.sh - the open-relay suite (issue 8): relay tricks against
# every role's listener, through real Postfix instances started from
# contrib/postfix (tests/lib/postfix.sh --role relay and --role outbound),
# a real DNS server, Redis, mhpolicyd and mhmilter, in a network namespace
# of its own.  Nothing may be relayed to a domain that is not ours without
# authentication.
#
# The world: relay.test (a relay domain, delivered to the customer's server
# sink.customer.test:2525), backup.test (a backup domain, forwarded to its
# primary MX), foreign.test (the victim: its MX is a sink that must never
# see a connection), control.test (another foreign domain, reached only by
# the two permitted relays below: proof that the way out works, so that the
# victim's silence means something), sender.test (the senders' domain: any
# bounce lands at its MX).  Accounts: enabled@customer.test and
# disabled@customer.test (mhlist account ... --enabled off), both with a
# Cyrus SASL login on the outbound instance.
#
# Listeners (each runs every trick; "mode" says what a trick must get):
#   mx          the relay/backup MX's port 25, a client outside mynetworks  (relay)
#   mx6         the same over IPv6 (when the kernel has it)                  (relay)
#   out25       outbound 25, plain text, no AUTH                             (unauth)
#   out25-clear outbound 25, AUTH PLAIN (a good login) sent in clear text:
#               refused, then the tricks                                     (unauth)
#   out25-lo    outbound 25 from 127.0.0.1 (inside mynetworks), STARTTLS,
#               no AUTH: mynetworks gives no relay on the outbound role       (unauth)
#   out2525     outbound 2525 (STARTTLS required) without STARTTLS           (unauth)
#   out465      outbound 465 (SMTPS), no AUTH                                (unauth)
#   out25-bad   outbound 25, STARTTLS, a wrong password (535)                (unauth)
#   out10465-dis outbound 10465 (SMTPS), logged in as the disabled account   (disabled)
#   out2525-dis outbound 2525, STARTTLS, logged in as the disabled account   (disabled)
# A trick's RCPT (and other commands) carry a kind:
#   F  foreign: refused (4xx/5xx) by every listener
#   P  protocol misuse (RCPT before MAIL, DATA without recipients, XCLIENT...): refused
#   O  plainly ours: the MX accepts it; outbound listeners refuse it (no relay_domains)
#   A  ours in disguise (percent hack, quoted local part, ...): the MX may
#      accept it, outbound listeners refuse it
#   L  the node's own local addresses: anything, but refused for the disabled account
#   M  RCPT TO:<postmaster>: Postfix accepts it before any restriction (RFC 5321
#      4.5.1), so mhpolicyd never sees it; then
#   E  its END-OF-DATA: refused by mhpolicyd on the outbound role, accepted
#      (and delivered locally) on the MX
#   X  anything (EHLO, MAIL, RSET, ...)
# 221 (Postfix hanging up, e.g. "I can break rules, too") counts as refused.
# Every message a trick got queued is then followed in the maillog: each of
# its recipients must have been delivered to one of our sinks (or locally,
# to /dev/null), never anywhere else.  At the end: the victim's sink saw no
# connection and no message, no queue holds anything for a domain that is
# not ours, no maillog line names the victim's MX, mhpolicyd and mhmilter
# still run.
#
# The tricks run from one Python (stdlib) client per listener: byte-exact
# commands, pipelining, malformed and 8-bit input, bounded timeouts, and a
# few ms a session (about 50 with TLS) where swaks needs 300 ms; swaks sends
# the controls.  Set KEEP_TMP=1 to keep $TMP/transcript (every command and
# reply of every trick) and $TMP/queued.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/dns.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"
need_cmd saslpasswd2 openssl jq
[ -x /usr/bin/python3 ] || skip_all "/usr/bin/python3 not installed"
swaks_supports TLS || skip_all "swaks without TLS (install libnet-ssleay-perl)"

POLICYD=${MHPOLICYD:?MHPOLICYD: path of the built mhpolicyd}
MILTER=${MHMILTER:?MHMILTER: path of the built mhmilter}
MHLIST=${MHLIST:?MHLIST: path of the built mhlist}
NODE=relay1.mhkit.test
PW=s3cret-Pass
T_START=$(now_ms)
section() { echo "# ---- $* (t=$(( ($(now_ms) - T_START) / 1000 )) s)"; }

# --- the world: client addresses, DNS, sinks ----------------------------------------------
isolate_addr_add 192.0.2.25 192.0.2.26
have_ipv6 && isolate_addr_add 2001:db8::25
cat >"$TMP/zone" <<ZONE
mhkit.test ZONE
$NODE A 127.0.0.1
relay.test ZONE
relay.test MX 10 $NODE.
backup.test ZONE
backup.test MX 10 mx.backup.test.
backup.test MX 20 $NODE.
mx.backup.test A 127.0.0.4
customer.test ZONE
customer.test MX 10 $NODE.
sink.customer.test A 127.0.0.5
foreign.test ZONE
foreign.test MX 10 mx.foreign.test.
*.foreign.test MX 10 mx.foreign.test.
mx.foreign.test A 127.0.0.9
evilrelay.test ZONE
evilrelay.test MX 10 mx.foreign.test.
control.test ZONE
control.test MX 10 mx.control.test.
mx.control.test A 127.0.0.10
sender.test ZONE
sender.test MX 10 mx.sender.test.
mx.sender.test A 127.0.0.8
ZONE
dns_start "$TMP/zone"

sink_start dest 2525 --host 127.0.0.5		# relay.test's own server (the customer's)
sink_start primary 25 --host 127.0.0.4		# backup.test's primary MX (the customer's)
sink_start victim 25 --host 127.0.0.9		# foreign.test's MX: must stay untouched
sink_start control 25 --host 127.0.0.10		# control.test's MX: the permitted relays
sink_start senders 25 --host 127.0.0.8		# sender.test's MX: bounces, if any

# --- Redis, mhkit.conf, the domains and accounts, the daemons -------------------------------
redis_start
PPORT=$(free_port)
SPORT=$(free_port)
MPORT=$(free_port)
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF" "policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; };
milter = { listen = \"inet:127.0.0.1:$MPORT\"; };
node = { hostnames = [\"$NODE\"]; };
dns = { servers = [\"127.0.0.1@53\"]; timeout = \"2s\"; };"
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null || fail "mhlist $*"; }
# call-aheads stay on (the default): every weird address that reaches
# mhpolicyd is probed at the customer's server, which accepts anything
mh domain add relay.test --service relay --dest sink.customer.test --port 2525 --spam off --virus off
mh domain add backup.test --service backup
mh account add enabled@customer.test --blocks 1
mh account add disabled@customer.test --blocks 1 --enabled off

start_bg mhpolicyd "$POLICYD" -c "$CONF" -f
POLICYD_PID=$BG_PID
wait_until 10 grep -q "redis .*connect\|ready" "$TMP/mhpolicyd.log" || hard_error "mhpolicyd did not start: $(cat "$TMP/mhpolicyd.log")"
start_bg mhmilter "$MILTER" -c "$CONF" -f
MILTER_PID=$BG_PID
wait_until 10 grep -q "ready" "$TMP/mhmilter.log" || hard_error "mhmilter did not start: $(cat "$TMP/mhmilter.log")"

# --- the two Postfix instances, from contrib/postfix ----------------------------------------
section "Postfix start"
# Only the daemons' addresses change; mail goes by MX (the test DNS) as in
# production, so a relayed message would really reach the victim's sink.
# What the harness leaves out of a test instance and a stock Debian Postfix
# has, the fragments are applied on top of, comes back: the local(8)
# service, Postfix's own local_recipient_maps (the harness empties it, and
# smtpd would then accept any local part of a local domain), and on the
# outbound node Postfix's own mydestination.  Local mail (postmaster, root)
# goes to /dev/null, not to the host's mailboxes.
STOCK=(--master 'local unix - n n - - local' 'alias_maps = inline:{ postmaster=root, root=/dev/null }'
	'local_recipient_maps = proxy:unix:passwd.byname $alias_maps')
IPV6=
have_ipv6 && IPV6=--ipv6
postfix_start relay1 --role relay $IPV6 \
	--subst "inet:127.0.0.1:10027=inet:127.0.0.1:$PPORT" \
	--subst "inet:127.0.0.1:10028=inet:127.0.0.1:$MPORT" \
	--subst "inet:127.0.0.1:10029=inet:127.0.0.1:$SPORT" \
	"${STOCK[@]}" "myhostname = $NODE" 'default_transport = smtp' 'relay_transport = relay'
postfix_start out --role outbound \
	--subst "inet:127.0.0.1:10027=inet:127.0.0.1:$PPORT" \
	"${STOCK[@]}" 'mydestination = $myhostname, localhost.$mydomain, localhost' \
	'default_transport = smtp' 'relay_transport = relay' 'smtp_host_lookup = dns'
postfix_sasl_user out enabled@customer.test "$PW"
postfix_sasl_user out disabled@customer.test "$PW"
MX=$(postfix_port relay1 25)
echo "# relay1 (relay/backup MX): 25=$MX; out (outbound): ${PF_PORTMAP[out]} (production=test)"
for f in relay1 out; do
	assert_not_contains "$(cat "$(postfix_dir $f)/start.log" "$(postfix_log $f)")" "unused parameter" \
		"$f: the contrib fragments start cleanly (postconf warns of nothing)"
done

# tsend DEST FROM TO [swaks args] - send_mail with swaks' TLS marks read as the plain ones
tsend() {
	send_mail "$@"
	T_OUT=$(printf '%s\n' "$T_OUT" | sed -e 's/^ ~> / -> /' -e 's/^<~  /<-  /' -e 's/^<~\* /<** /')
}

# --- controls: what may pass does pass --------------------------------------------------------
section "controls"
# the MX relays for its own host (permit_mynetworks), the outbound role
# for a logged-in account: both reach a foreign domain's MX the way a
# relayed trick would reach the victim's
send_mail "$MX" alice@sender.test ctl-mx@control.test --local-interface 127.0.0.1 --header 'Message-ID: <ctl-mx@orelay.test>'
assert_match "$(smtp_data_reply)" '^250 2\.0\.0 Ok: queued as' "control: the MX relays for its own host (mynetworks)"
tsend "$(postfix_port out 25)" alice@sender.test ctl-out@control.test --tls \
	--auth PLAIN --auth-user enabled@customer.test --auth-password "$PW" --header 'Message-ID: <ctl-out@orelay.test>'
assert_match "$(smtp_data_reply)" '^250 2\.0\.0 Ok: queued as' "control: the outbound role relays for a logged-in enabled account"
sink_wait control 2 30
assert_eq 1 "$(sink_find control Message-ID '<ctl-mx@orelay.test>' | grep -c .)" "control: the MX's relay reached the foreign MX"
assert_eq 1 "$(sink_find control Message-ID '<ctl-out@orelay.test>' | grep -c .)" "control: the outbound relay reached the foreign MX"
# and mail for our own domains reaches the customers
send_mail "$MX" alice@sender.test bob@Relay.TEST --local-interface 192.0.2.25 \
	--header 'Message-ID: <ctl-case@orelay.test>' --header 'To: <bob@foreign.test>' --header 'Cc: <carol@foreign.test>'
assert_match "$(smtp_data_reply)" '^250 2\.0\.0 Ok: queued as' "control: bob@Relay.TEST (a case variant of ours, To:/Cc: foreign) accepted"
send_mail "$MX" alice@sender.test erin@backup.test --local-interface 192.0.2.25 --header 'Message-ID: <ctl-backup@orelay.test>'
assert_match "$(smtp_data_reply)" '^250 2\.0\.0 Ok: queued as' "control: the backup domain accepted"
sink_wait dest 1 30
sink_wait primary 1 30
m=$(sink_find dest Message-ID '<ctl-case@orelay.test>')
assert_eq 1 "$(printf '%s\n' "$m" | grep -c .)" "control: bob@Relay.TEST delivered to the customer's server"
[ -n "$m" ] && assert_eq "<bob@relay.test>" "$(sink_header "$m" X-Sink-Rcpt-To | tr A-Z a-z)" \
	"control: ... with only that envelope recipient (the To:/Cc: headers name foreign.test)"
assert_eq 1 "$(sink_find primary Message-ID '<ctl-backup@orelay.test>' | grep -c .)" "control: the backup domain's mail forwarded to its primary MX"

# --- the tricks ---------------------------------------------------------------------------------
cat >"$TMP/orelay.py" <<'PY'
"""orelay.py LISTENER HOST PORT SRC TLS AUTH MODE ME [CASE...]
One listener, every relay trick (or the named ones), one SMTP session each.
  TLS   plain | starttls | smtps (no certificate check: the test's own)
  AUTH  none | clear:USER | bad:USER | good:USER   (AUTH PLAIN at setup;
        clear: in plain text, must be refused; bad: a wrong password, 535;
        good: the right password, 235); the password is in ORELAY_PW
  MODE  relay | unauth | disabled: what each kind of command must get
  ME    the instance's myhostname
Prints, tab-separated:
  R LISTENER CASE ok|fail DETAIL     one result per trick
  Q LISTENER CASE QUEUEID RCPTS      a message that got queued
  T LISTENER CASE COMMAND REPLY      the transcript
  E LISTENER KEYWORDS                the EHLO keywords the sessions see
  S LISTENER CASE MS                 a trick that took a second or more"""
import base64, os, socket, ssl, sys, time

LISTENER, HOST, PORT, SRC, TLS, AUTH, MODE, ME = sys.argv[1:9]
PORT = int(PORT)
ONLY = set(sys.argv[9:])
PASSWORD = os.environ.get("ORELAY_PW", "")
TIMEOUT = 10.0
FROM = "alice@sender.test"
FOREIGN = "foreign.test"
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def expect(kind):
    """what a command of this kind must get on this listener"""
    if kind in "XM":
        return "any"
    if kind in "FP":
        return "refuse"
    if kind == "E":
        return "any" if MODE == "relay" else "refuse"
    if MODE == "relay":
        return {"O": "accept", "A": "any", "L": "any"}[kind]
    if MODE == "unauth":
        return {"O": "refuse", "A": "refuse", "L": "any"}[kind]
    return "refuse"			# disabled: every recipient


def enc(x):
    return x if isinstance(x, bytes) else x.encode("utf-8")


def show(b):
    if not b:
        return "(empty line)"
    s = enc(b).decode("utf-8", "backslashreplace")
    s = s.replace("\r", "\\r").replace("\n", "\\n").replace("\0", "\\0").replace("\t", "\\t")
    return s if len(s) <= 120 else s[:117] + "..."


class Closed(Exception):
    pass


class Session:
    def __init__(self):
        fam = socket.AF_INET6 if ":" in HOST else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        s.bind((SRC, 0))
        s.connect((HOST, PORT))
        if TLS == "smtps":
            s = CTX.wrap_socket(s)
        self.s = s
        self.buf = b""

    def starttls(self):
        self.s = CTX.wrap_socket(self.s)
        self.buf = b""

    def send(self, data):
        try:
            self.s.sendall(data)
        except OSError:
            raise Closed()

    def line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                return None
            except OSError:
                chunk = b""
            if not chunk:
                raise Closed()
            self.buf += chunk
        l, self.buf = self.buf.split(b"\n", 1)
        return l.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self, timeout=TIMEOUT):
        """(code, last line) of one reply; (None, why) on a timeout or a closed connection"""
        lines = []
        try:
            while True:
                l = self.line(timeout)
                if l is None:
                    return None, "(no reply within %gs)" % timeout
                lines.append(l)
                if len(l) < 4 or l[3] != "-":
                    break
        except Closed:
            return None, "(connection closed)"
        code = int(lines[-1][:3]) if lines[-1][:3].isdigit() else 0
        self.lines = lines
        return code, lines[-1]

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Case:
    def __init__(self, name):
        self.name = name
        self.bad = []
        self.trail = []
        self.accepted = []		# RCPT commands that got 2xx in the open transaction
        self.closed = False
        self.s = None

    def log(self, cmd, text):
        print("T\t%s\t%s\t%s\t%s" % (LISTENER, self.name, show(cmd), text))
        self.trail.append("%s => %s" % (show(cmd), text))

    def check(self, cmd, kind, code, text):
        self.log(cmd, text)
        e = expect(kind)
        ok = code is not None and 200 <= code < 400 and code != 221	# 221: Postfix hangs up
        if e == "refuse" and ok:
            self.bad.append("ACCEPTED (%s, must be refused): %s => %s" % (kind, show(cmd), text))
        if e == "accept" and not ok:
            self.bad.append("REFUSED (%s, must be accepted): %s => %s" % (kind, show(cmd), text))
        verb = enc(cmd)[:4].upper()
        if verb == b"RCPT" and ok:
            self.accepted.append(show(cmd))
        if verb in (b"MAIL", b"RSET", b"EHLO", b"HELO") and ok:
            self.accepted = []
        if code == 250 and "queued as " in text:
            qid = text.split("queued as ", 1)[1].split()[0]
            print("Q\t%s\t%s\t%s\t%s" % (LISTENER, self.name, qid, " ".join(self.accepted)))
            self.accepted = []
        if code is None and "closed" in text:
            self.closed = True
        return code

    def cmd(self, line, kind="X"):
        """send one command, read its reply, check it"""
        if self.closed:
            return self.check(line, kind, None, "(connection closed before)")
        try:
            self.s.send(enc(line) + b"\r\n")
        except Closed:
            return self.check(line, kind, None, "(connection closed)")
        code, text = self.s.reply()
        return self.check(line, kind, code, text)

    def raw(self, data, kinds):
        """send bytes as they are (bare CR, LF, NUL...) and a NOOP after
        them; the replies up to NOOP's are checked against kinds in order
        (a missing one counts as refused, an extra one as F)"""
        if self.closed:
            for k in kinds:
                self.check(data, k, None, "(connection closed before)")
            return
        try:
            self.s.send(data + b"NOOP\r\n")
        except Closed:
            pass
        replies = []
        while True:
            code, text = self.s.reply()
            if code is None or text == "250 2.0.0 Ok":
                if code is None:
                    self.log("(waiting for the NOOP)", text)
                    if "closed" in text:
                        self.closed = True
                break
            replies.append((code, text))
        for i, (code, text) in enumerate(replies):
            self.check(data if i == 0 else "(reply %d to it)" % (i + 1), kinds[i] if i < len(kinds) else F, code, text)
        for i in range(len(replies), len(kinds)):
            self.check("(reply %d to it)" % (i + 1), kinds[i], None, "(no reply)")

    def pipe(self, items, data=None):
        """send several commands in one write, then read a reply for each.
        items: (bytes-or-str, kind); a line given as bytes goes as it is
        (its own line ends); data, if given, is sent right after the
        commands, before any reply is read (pipelining into the body)"""
        if self.closed:
            for line, kind in items:
                self.check(line, kind, None, "(connection closed before)")
            return [None] * len(items)
        blob = b"".join(l if isinstance(l, bytes) else enc(l) + b"\r\n" for l, _ in items)
        try:
            self.s.send(blob + (data or b""))
        except Closed:
            pass
        codes = []
        for line, kind in items:
            code, text = self.s.reply(TIMEOUT if not isinstance(line, bytes) else 3)
            codes.append(self.check(line, kind, code, text))
        return codes

    def message(self, headers=()):
        hdr = ["From: <%s>" % FROM, "To: <bob@relay.test>", "Subject: open relay trick %s" % self.name,
               "Message-ID: <%s.%s@orelay.test>" % (self.name, LISTENER),
               "Date: Thu, 01 Jan 2026 00:00:00 +0000"]
        names = {h.split(":", 1)[0].lower() for h in headers}
        hdr = [h for h in hdr if h.split(":", 1)[0].lower() not in names] + list(headers)
        return ("\r\n".join(hdr) + "\r\n\r\nA relay trick: %s on %s.\r\n.\r\n" % (self.name, LISTENER)).encode()

    def data(self, kind=None, headers=(), eod="X"):
        """DATA (kind: X when a recipient was accepted, else P), then the
        message; eod: the kind of the reply after it"""
        if kind is None:
            kind = "X" if self.accepted else "P"
        code = self.cmd("DATA", kind)
        if code == 354:
            try:
                self.s.send(self.message(headers))
            except Closed:
                pass
            c2, t2 = self.s.reply()
            self.check("(end of data)", eod, c2, t2)
        return code


def setup(c):
    """banner, EHLO, STARTTLS, AUTH as the listener says"""
    c.s = Session()
    code, text = c.s.reply()
    c.log("(banner)", text)
    if code != 220:
        c.bad.append("no banner: %s" % text)
        c.closed = True
        return
    c.cmd("EHLO client.test")
    if TLS == "starttls":
        if c.cmd("STARTTLS") != 220:
            c.bad.append("STARTTLS refused")
            c.closed = True
            return
        c.s.starttls()
        c.cmd("EHLO client.test")
    global EHLO_SHOWN
    if not EHLO_SHOWN:
        EHLO_SHOWN = True
        print("E\t%s\t%s" % (LISTENER, " ".join(l[4:] for l in c.s.lines[1:])))
    if AUTH != "none":
        how, user = AUTH.split(":", 1)
        pw = PASSWORD if how != "bad" else "wrong-" + PASSWORD
        code = c.cmd("AUTH PLAIN " + base64.b64encode(("\0%s\0%s" % (user, pw)).encode()).decode())
        want = {"clear": lambda x: x is not None and x >= 500,
                "bad": lambda x: x == 535, "good": lambda x: x == 235}[how]
        if not want(code):
            c.bad.append("AUTH (%s) got an unexpected reply: %s" % (how, c.trail[-1]))


CASES = []
EHLO_SHOWN = False


def case(name, auto_data=True):
    def deco(fn):
        CASES.append((name, fn, auto_data))
        return fn
    return deco


def mail(c, sender=FROM, params=""):
    return c.cmd("MAIL FROM:<%s>%s" % (sender, params))


def simple(name, addr, kind, mail_params="", rcpt_params=""):
    """MAIL FROM, one RCPT TO:<addr>, then DATA"""
    def fn(c):
        mail(c, params=mail_params)
        c.cmd(b"RCPT TO:<" + enc(addr) + b">" + enc(rcpt_params), kind)
    CASES.append((name, fn, True))


def rawrcpt(name, line, kind, mail_params=""):
    """MAIL FROM, one RCPT command written out in full, then DATA"""
    def fn(c):
        mail(c, params=mail_params)
        c.cmd(line, kind)
    CASES.append((name, fn, True))


F, P, O, A, L, X, M, E = "FPOALXME"
D = FOREIGN

# -- the plain case and the percent hack
simple("plain-foreign", "bob@" + D, F)
simple("percent-at-ours", "bob%" + D + "@relay.test", A)
simple("percent-at-own-ip-literal", "bob%" + D + "@[127.0.0.1]", F)
simple("percent-at-localhost", "bob%" + D + "@localhost", F)
simple("percent-at-own-hostname", "bob%" + D + "@" + ME, F)
simple("percent-twice-at-localhost", "bob%" + D + "%localhost@localhost", F)
# -- bang paths
simple("bang-at-ours", D + "!bob@relay.test", A)
simple("bang-unqualified", D + "!bob", F)
simple("bang-at-localhost", D + "!bob@localhost", F)
simple("bang-and-percent-at-localhost", D + "!bob%localhost@localhost", F)
# -- source routes
simple("source-route", "@relay.test:bob@" + D, F)
simple("source-route-two-hops", "@relay.test,@localhost:bob@" + D, F)
simple("source-route-to-ours", "@" + D + ":bob@relay.test", A)
rawrcpt("source-route-no-brackets", "RCPT TO:@relay.test:bob@" + D, F)
# -- quoted and escaped local parts with an @
simple("quoted-at-ours", '"bob@%s"@relay.test' % D, A)
simple("quoted-unqualified", '"bob@%s"' % D, F)
simple("quoted-at-localhost", '"bob@%s"@localhost' % D, F)
simple("quoted-percent-at-localhost", '"bob%%%s"@localhost' % D, F)
simple("backslash-at-localhost", "bob\\@%s@localhost" % D, F)
simple("backslash-at-ours", "bob\\@%s@relay.test" % D, A)
# -- dots, several @, look-alikes
simple("trailing-dot-foreign", "bob@%s." % D, F)
simple("trailing-dot-ours", "bob@relay.test.", O)
simple("ours-dot-at-foreign", "bob@relay.test.@" + D, F)
simple("two-at-ours-last", "bob@%s@relay.test" % D, A)
simple("two-at-foreign-last", "bob@relay.test@" + D, F)
simple("ours-as-label-of-foreign", "bob@relay.test." + D, F)
simple("ours-as-suffix", "bob@evilrelay.test", F)
simple("ours-truncated", "bob@relay.tes", F)
simple("subdomain-of-ours", "bob@sub.relay.test", A)
simple("subdomain-of-backup", "bob@sub.backup.test", A)
# -- address literals
simple("ip-literal-own", "bob@[127.0.0.1]", L)
simple("ip-literal-victim-mx", "bob@[127.0.0.9]", F)
simple("ip-literal-ipv6-loopback", "bob@[IPv6:::1]", L)
simple("ip-literal-short-form", "bob@[127.1]", F)
simple("ip-literal-of-a-name", "bob@[%s]" % D, F)
simple("domain-with-port", "bob@%s:25" % D, F)
# -- case
simple("case-foreign", "bob@FOREIGN.TEST", F)
simple("case-ours", "bob@Relay.TEST", O)
simple("case-backup", "bob@BACKUP.Test", O)
# -- 8-bit and SMTPUTF8
simple("smtputf8-local-foreign", "b\u00f8b@" + D, F, " SMTPUTF8")
simple("smtputf8-domain-foreign", "bob@f\u00f8reign.test", F, " SMTPUTF8")
simple("smtputf8-lookalike-ours", "bob@r\u0435lay.test", F, " SMTPUTF8")	# a Cyrillic e
simple("utf8-local-without-smtputf8", "b\u00f8b@" + D, F)
simple("8bit-latin1-local-foreign", b"bob\xe9@" + D.encode(), F)
simple("8bit-latin1-lookalike-ours", b"bob@r\xe9lay.test", F)
simple("punycode-foreign", "bob@xn--freign-fya.test", F)
# -- broken syntax
rawrcpt("unbalanced-open-bracket", "RCPT TO:<bob@" + D, F)
rawrcpt("unbalanced-close-bracket", "RCPT TO:bob@%s>" % D, F)
rawrcpt("double-brackets", "RCPT TO:<<bob@%s>>" % D, F)
rawrcpt("unbalanced-quote-foreign", 'RCPT TO:<"bob@%s>' % D, F)
rawrcpt("unbalanced-quote-ours", 'RCPT TO:<"bob@relay.test>', A)
rawrcpt("no-brackets", "RCPT TO:bob@" + D, F)
rawrcpt("space-after-colon", "RCPT TO: <bob@%s>" % D, F)
rawrcpt("comment-in-local-part", "RCPT TO:<bob(relay.test)@%s>" % D, F)
rawrcpt("comment-after-domain", "RCPT TO:<bob@%s(relay.test)>" % D, F)
rawrcpt("address-list", "RCPT TO:<bob@relay.test,bob@%s>" % D, F)
rawrcpt("second-address-as-parameter", "RCPT TO:<bob@relay.test> <bob@%s>" % D, F)
rawrcpt("orcpt-names-foreign", "RCPT TO:<bob@relay.test> ORCPT=rfc822;bob@" + D, O)
rawrcpt("notify-never", "RCPT TO:<bob@%s> NOTIFY=NEVER" % D, F)
simple("long-local-part", "b" * 200 + "@" + D, F)
simple("empty-domain", "bob@", F)
# -- other senders, HELO names, local addresses
simple("postmaster-foreign", "postmaster@" + D, F)
simple("user-at-localhost", "bob@localhost", L)
simple("user-at-own-hostname", "bob@" + ME, L)


@case("postmaster-unqualified", auto_data=False)
def _(c):
    # RFC 5321 4.5.1: Postfix accepts RCPT TO:<postmaster> before any
    # restriction (mhpolicyd never sees it); on the outbound role mhpolicyd
    # refuses the message at END-OF-DATA, on the MX it is delivered locally
    mail(c)
    c.cmd("RCPT TO:<postmaster>", M)
    c.data(eod=E)


@case("empty-sender")
def _(c):
    mail(c, sender="")
    c.cmd("RCPT TO:<bob@%s>" % D, F)


@case("sender-ours")
def _(c):
    mail(c, sender="alice@relay.test")
    c.cmd("RCPT TO:<bob@%s>" % D, F)


@case("mail-auth-parameter")
def _(c):
    mail(c, params=" AUTH=enabled@customer.test")
    c.cmd("RCPT TO:<bob@%s>" % D, F)


@case("helo-localhost")
def _(c):
    c.cmd("EHLO localhost")
    mail(c)
    c.cmd("RCPT TO:<bob@%s>" % D, F)


@case("helo-own-name")
def _(c):
    c.cmd("EHLO " + ME)
    mail(c)
    c.cmd("RCPT TO:<bob@%s>" % D, F)


@case("helo-own-ip-literal")
def _(c):
    c.cmd("HELO [127.0.0.1]")
    mail(c)
    c.cmd("RCPT TO:<bob@%s>" % D, F)


# -- the protocol
@case("rcpt-before-mail")
def _(c):
    c.cmd("RCPT TO:<bob@%s>" % D, P)


@case("rcpt-after-rset")
def _(c):
    mail(c)
    c.cmd("RSET")
    c.cmd("RCPT TO:<bob@%s>" % D, P)


@case("rcpt-after-refused-mail")
def _(c):
    c.cmd("MAIL FROM:<%s" % FROM)
    c.cmd("RCPT TO:<bob@%s>" % D, F)


@case("nested-mail")
def _(c):
    mail(c)
    c.cmd("RCPT TO:<bob@%s>" % D, F)
    mail(c)
    c.cmd("RCPT TO:<bob@%s>" % D, F)


@case("data-without-rcpt")
def _(c):
    mail(c)


@case("bdat-after-refused-rcpt", auto_data=False)
def _(c):
    mail(c)
    c.cmd("RCPT TO:<bob@%s>" % D, F)
    body = b"Subject: bdat\r\n\r\nchunk\r\n"
    c.pipe([(b"BDAT %d LAST\r\n" % len(body), P)], data=body)


@case("mixed-recipients")
def _(c):
    mail(c)
    c.cmd("RCPT TO:<bob@relay.test>", O)
    c.cmd("RCPT TO:<bob@%s>" % D, F)
    c.cmd("RCPT TO:<erin@backup.test>", O)
    c.cmd("RCPT TO:<carol@FOREIGN.test>", F)
    c.cmd("RCPT TO:<bob%%%s@localhost>" % D, F)


@case("many-foreign-recipients")
def _(c):
    mail(c)
    for a in ("bob@" + D, "bob@%s." % D, "bob%%%s@localhost" % D, "%s!bob" % D, "bob@[127.0.0.9]"):
        c.cmd("RCPT TO:<%s>" % a, F)


@case("header-only-foreign")
def _(c):
    mail(c)
    c.cmd("RCPT TO:<bob@relay.test>", O)
    c.data(headers=("To: <bob@%s>" % D, "Cc: <carol@%s>" % D, "Bcc: <dave@%s>" % D,
                    "Resent-To: <erin@%s>" % D))


@case("pipelined-mixed", auto_data=False)
def _(c):
    codes = c.pipe([("MAIL FROM:<%s>" % FROM, X), ("RCPT TO:<bob@relay.test>", O),
                    ("RCPT TO:<bob@%s>" % D, F), ("DATA", O)])
    if codes[-1] == 354 and not c.closed:
        c.s.send(c.message())
        code, text = c.s.reply()
        c.check("(end of data)", X, code, text)


@case("pipelined-bad-rcpt-then-data", auto_data=False)
def _(c):
    # DATA refused (no valid recipients): the "message" that follows in the
    # same write is read as commands, and its RCPT must be refused too
    body = [("From: <%s>" % FROM, X), ("", X), ("MAIL FROM:<%s>" % FROM, X),
            ("RCPT TO:<bob@%s>" % D, F), ("DATA", P), ("smuggled", X), (".", X)]
    c.pipe([("MAIL FROM:<%s>" % FROM, X), ("RCPT TO:<bob@%s>" % D, F), ("DATA", P)] + body)


@case("smtp-smuggling-bare-lf-dot", auto_data=False)
def _(c):
    # a message for one of ours whose body holds "<LF>.<LF>" and then a
    # second transaction to the victim; Postfix may take the bare-LF dot as
    # the end (smtpd_forbid_bare_newline = no): then the smuggled RCPT
    # arrives as a command and must be refused like any other
    mail(c)
    c.cmd("RCPT TO:<bob@relay.test>", O)
    code = c.cmd("DATA", O)
    if code != 354:
        return
    smuggled = ("MAIL FROM:<%s>\r\nRCPT TO:<bob@%s>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n" % (FROM, D)).encode()
    c.s.send(c.message()[:-3] + b"\n.\n" + smuggled + b".\r\n")
    replies = []
    while True:
        code, text = c.s.reply(3)
        if code is None:
            break
        replies.append((code, text))
        c.log("(after the message)", text)
    for code, text in replies:
        if text.startswith("250 2.1.5") or code == 354:
            c.bad.append("a smuggled command was accepted: " + text)
    queued = [t for cd, t in replies if cd == 250 and "queued as " in t]
    for t in queued:
        print("Q\t%s\t%s\t%s\t%s" % (LISTENER, c.name, t.split("queued as ", 1)[1].split()[0], "(smuggling)"))
    if len(queued) > 1:
        c.bad.append("%d messages queued from one DATA" % len(queued))


@case("bare-lf-second-rcpt")
def _(c):
    mail(c)
    c.raw(b"RCPT TO:<bob@relay.test>\nRCPT TO:<bob@" + D.encode() + b">\r\n", [A, F])


@case("bare-cr-in-address")
def _(c):
    mail(c)
    c.raw(b"RCPT TO:<bob@" + D.encode() + b"\r@relay.test>\r\n", [A])


@case("nul-in-command")
def _(c):
    mail(c)
    c.raw(b"RCPT TO:<bob@relay.test>\0<bob@" + D.encode() + b">\r\n", [A])


# -- other people's privileges
@case("xclient-claims-localhost")
def _(c):
    c.cmd("XCLIENT ADDR=127.0.0.1 NAME=localhost LOGIN=enabled@customer.test", P)
    c.cmd("EHLO client.test")
    mail(c)
    c.cmd("RCPT TO:<bob@%s>" % D, F)


@case("xforward-claims-localhost")
def _(c):
    c.cmd("XFORWARD ADDR=127.0.0.1 NAME=localhost", P)
    mail(c)
    c.cmd("RCPT TO:<bob@%s>" % D, F)


@case("auth-as-disabled-account")
def _(c):
    c.cmd("AUTH PLAIN " + base64.b64encode(("\0disabled@customer.test\0" + PASSWORD).encode()).decode())
    mail(c)
    c.cmd("RCPT TO:<bob@%s>" % D, F)


@case("auth-as-unknown-login")
def _(c):
    c.cmd("AUTH PLAIN " + base64.b64encode(b"\0ghost@customer.test\0x").decode(), P)
    mail(c)
    c.cmd("RCPT TO:<bob@%s>" % D, F)


seen = set()
for name, fn, auto_data in CASES:
    assert name not in seen, name
    seen.add(name)
    if ONLY and name not in ONLY:
        continue
    c = Case(name)
    t0 = time.monotonic()
    try:
        setup(c)
        if not c.closed:
            fn(c)
            if auto_data and not c.closed:
                c.data()
            if not c.closed:
                c.s.send(b"QUIT\r\n")
    except Closed:
        pass
    except OSError as e:
        c.bad.append("client error: %s" % e)
    finally:
        if c.s:
            c.s.close()
    detail = " | ".join(c.bad) if c.bad else ""
    rel = [t for t in c.trail if t[:4] in ("RCPT", "XCLI", "XFOR", "AUTH", "BDAT") or t.startswith("DATA")]
    detail = (detail + " || " if detail else "") + " | ".join(rel or c.trail[-1:])
    print("R\t%s\t%s\t%s\t%s" % (LISTENER, name, "fail" if c.bad else "ok", detail.replace("\t", " ")))
    ms = int((time.monotonic() - t0) * 1000)
    if ms >= 1000:
        print("S\t%s\t%s\t%d" % (LISTENER, name, ms))
    sys.stdout.flush()
PY

: >"$TMP/queued"
: >"$TMP/transcript"
: >"$TMP/ehlo"
# tricks LISTENER INSTANCE HOST PORT SRC TLS AUTH MODE - every trick against one listener
tricks() {
	local listener=$1 inst=$2 host=$3 port=$4 src=$5 tls=$6 auth=$7 mode=$8 me n=0 t0 tag l c r d
	me=$(postfix_postconf "$inst" -h myhostname)
	t0=$(now_ms)
	section "tricks: $listener ($inst, $tls, auth $auth, $mode)"
	ORELAY_PW=$PW /usr/bin/python3 "$TMP/orelay.py" "$listener" "$host" "$port" "$src" "$tls" "$auth" "$mode" "$me" \
		>"$TMP/orelay-$listener.out" 2>"$TMP/orelay-$listener.err"
	[ -s "$TMP/orelay-$listener.err" ] && sed 's/^/# orelay: /' "$TMP/orelay-$listener.err" | tail -n 5
	while IFS=$'\t' read -r tag l c r d; do
		case $tag in
		R)
			n=$((n + 1))
			if [ "$r" = ok ]; then pass "$l: $c"; else fail "$l: $c" "$d"; fi
			;;
		S) echo "# $l: $c took $r ms" ;;
		E) printf '%s\t%s\n' "$l" "$c" >>"$TMP/ehlo" ;;
		Q) printf '%s\t%s\t%s\t%s\t%s\n' "$inst" "$l" "$c" "$r" "$d" >>"$TMP/queued" ;;
		T) printf '%s\t%s\t%s\t%s\n' "$l" "$c" "$r" "$d" >>"$TMP/transcript" ;;
		esac
	done <"$TMP/orelay-$listener.out"
	echo "# $listener: $n tricks in $(( $(now_ms) - t0 )) ms"
	[ "$n" -ge 40 ] || fail "$listener: at least 40 tricks ran (got $n)"
}

# ehlo_of LISTENER - the EHLO keywords its sessions saw (after STARTTLS, if any)
ehlo_of() {
	awk -F '\t' -v l="$1" '$1 == l { print $2 }' "$TMP/ehlo"
}

# reply_to LISTENER CASE COMMAND-PREFIX - the reply to the first command of CASE starting so
reply_to() {
	awk -F '\t' -v l="$1" -v c="$2" -v p="$3" '$1 == l && $2 == c && index($3, p) == 1 { print $4; exit }' "$TMP/transcript"
}

OUT=out
tricks mx relay1 127.0.0.1 "$MX" 192.0.2.25 plain none relay
[ -n "$IPV6" ] && tricks mx6 relay1 ::1 "$MX" 2001:db8::25 plain none relay
tricks out25 $OUT 127.0.0.1 "$(postfix_port out 25)" 192.0.2.26 plain none unauth
tricks out25-clear $OUT 127.0.0.1 "$(postfix_port out 25)" 192.0.2.26 plain clear:enabled@customer.test unauth
tricks out25-lo $OUT 127.0.0.1 "$(postfix_port out 25)" 127.0.0.1 starttls none unauth
tricks out2525 $OUT 127.0.0.1 "$(postfix_port out 2525)" 192.0.2.26 plain clear:enabled@customer.test unauth
tricks out465 $OUT 127.0.0.1 "$(postfix_port out 465)" 192.0.2.26 smtps none unauth
tricks out25-bad $OUT 127.0.0.1 "$(postfix_port out 25)" 192.0.2.26 starttls bad:enabled@customer.test unauth
tricks out10465-dis $OUT 127.0.0.1 "$(postfix_port out 10465)" 192.0.2.26 smtps good:disabled@customer.test disabled
tricks out2525-dis $OUT 127.0.0.1 "$(postfix_port out 2525)" 192.0.2.26 starttls good:disabled@customer.test disabled

# --- what the listeners offer, and the exact words of the decisive replies ---------------------------
section "exact replies"
for l in mx out25 out25-clear out2525; do
	assert_match "$(ehlo_of $l)" '^[A-Z0-9]' "$l: EHLO answered"
	assert_not_contains " $(ehlo_of $l) " " AUTH " "$l: no AUTH offered in plain text"
done
for l in out25-lo out465; do
	assert_contains " $(ehlo_of $l) " " AUTH PLAIN LOGIN " "$l: AUTH PLAIN LOGIN offered under TLS (the contrast)"
done
for l in mx out25 out25-lo out465; do
	assert_not_contains "$(ehlo_of $l)" "XCLIENT" "$l: XCLIENT not offered"
	assert_not_contains "$(ehlo_of $l)" "XFORWARD" "$l: XFORWARD not offered"
done
assert_eq "554 5.7.1 <bob@foreign.test>: Relay access denied" "$(reply_to mx plain-foreign 'RCPT')" \
	"mx: a foreign recipient gets Postfix's own Relay access denied"
assert_eq "554 5.7.1 <bob@foreign.test>: Relay access denied" "$(reply_to out25 plain-foreign 'RCPT')" \
	"out25: no AUTH: Relay access denied"
assert_eq "503 5.5.1 Error: authentication not enabled" "$(reply_to out25-clear plain-foreign 'AUTH')" \
	"out25: AUTH in clear text: not offered, refused"
assert_eq "554 5.7.1 <bob@foreign.test>: Relay access denied" "$(reply_to out25-lo plain-foreign 'RCPT')" \
	"out25 from 127.0.0.1 (mynetworks), no AUTH: Relay access denied"
assert_eq "530 5.7.0 Must issue a STARTTLS command first" "$(reply_to out2525 plain-foreign 'RCPT')" \
	"out2525 without STARTTLS: nothing before STARTTLS"
assert_eq "535 5.7.8 Error: authentication failed: authentication failure" "$(reply_to out25-bad plain-foreign 'AUTH')" \
	"out25: a wrong password: 535"
assert_eq "554 5.7.1 <bob@foreign.test>: Relay access denied" "$(reply_to out25-bad plain-foreign 'RCPT')" \
	"out25 after a failed AUTH: Relay access denied"
for l in out10465-dis out2525-dis; do
	assert_eq "235 2.7.0 Authentication successful" "$(reply_to $l plain-foreign 'AUTH')" "$l: the disabled account logs in"
	assert_eq "554 5.7.1 <bob@foreign.test>: Recipient address rejected: <disabled@customer.test>: no outbound service" \
		"$(reply_to $l plain-foreign 'RCPT')" "$l: the disabled account gets mhpolicyd's 554 5.7.1 no outbound service"
	assert_eq "554 5.7.1 <bob@relay.test>: Recipient address rejected: <disabled@customer.test>: no outbound service" \
		"$(reply_to $l case-ours 'RCPT' | sed 's/<bob@Relay.TEST>/<bob@relay.test>/')" "$l: ... for a customer domain too"
done
assert_eq "235 2.7.0 Authentication successful" "$(reply_to out465 auth-as-disabled-account 'AUTH')" \
	"out465: the disabled account's login itself works under TLS"
assert_eq "554 5.7.1 <bob@foreign.test>: Recipient address rejected: <disabled@customer.test>: no outbound service" \
	"$(reply_to out465 auth-as-disabled-account 'RCPT')" "out465: ... and its RCPT to a foreign domain gets 554 no outbound service"
assert_eq "535 5.7.8 Error: authentication failed: authentication failure" "$(reply_to out465 auth-as-unknown-login 'AUTH')" \
	"out465: an unknown login: 535"
assert_match "$(reply_to mx xclient-claims-localhost 'XCLIENT')" '^5[0-9][0-9] ' "mx: XCLIENT from an unauthorised client: 5xx"
assert_match "$(reply_to mx xforward-claims-localhost 'XFORWARD')" '^5[0-9][0-9] ' "mx: XFORWARD from an unauthorised client: 5xx"
assert_eq "503 5.5.1 Error: need MAIL command" "$(reply_to mx rcpt-before-mail 'RCPT')" "mx: RCPT before MAIL: 503 5.5.1"
assert_eq "503 5.5.1 Error: need MAIL command" "$(reply_to mx rcpt-after-rset 'RCPT')" "mx: RCPT after RSET: 503 5.5.1"

# --- what got queued went to our customers only ---------------------------------------------------
section "deliveries"
postfix_wait_queue_empty relay1 30 || echo "# relay1: the queue is not empty after 30 s"
postfix_wait_queue_empty out 20 || echo "# out: the queue is not empty after 20 s"
nq=0
while IFS=$'\t' read -r inst l c qid rcpts; do
	nq=$((nq + 1))
	lines=$(grep -F " $qid: to=<" "$(postfix_log "$inst")")
	bad=$(printf '%s\n' "$lines" | grep . | grep -vE 'relay=(sink\.customer\.test\[127\.0\.0\.5\]:2525|mx\.backup\.test\[127\.0\.0\.4\]:25|local), .*status=sent')
	if [ -n "$lines" ] && [ -z "$bad" ]; then
		pass "$l: $c: queued $qid went only to our customers' servers (or local /dev/null): $(printf '%s\n' "$lines" | grep -o 'to=<[^>]*>, \(orig_to=<[^>]*>, \)\?relay=[^,]*' | tr '\n' ' ')"
	else
		fail "$l: $c: queued $qid (accepted: $rcpts) went only to our customers' servers" "${bad:-no delivery logged}"
	fi
done <"$TMP/queued"
echo "# $nq messages queued by tricks"

# --- the victim -----------------------------------------------------------------------------------
section "the victim"
assert_eq 0 "$(sink_count victim)" "the foreign domain's MX received no message"
assert_eq 0 "$(sink_connections victim)" "the foreign domain's MX saw no connection at all"
assert_eq 2 "$(sink_count control)" "control.test's MX received only the two permitted control relays"
for inst in relay1 out; do
	q=$(postfix_queue "$inst" | jq -r '.recipients[].address' 2>/dev/null |
		grep -viE '@(relay\.test|backup\.test)$' | tr '\n' ' ')
	assert_eq "" "$q" "$inst: no queued recipient outside our domains (postqueue -j)"
	assert_eq 0 "$(postfix_queue_count "$inst")" "$inst: the queue is empty"
	# delivery agents' lines: "QID: to=<rcpt>, [orig_to=<...>, ]relay=HOST[IP]:PORT, ..."
	assert_eq "" "$(grep -E ': to=<[^>]*(foreign\.test|127\.0\.0\.9)[^>]*>, |, relay=[^,]*(foreign\.test|127\.0\.0\.9)' "$(postfix_log "$inst")" | head -n 3)" \
		"$inst: the maillog shows no delivery (or attempt) to the victim or its MX"
done
assert_eq 0 "$(sink_count senders)" "no backscatter: nothing accepted and then bounced to the (forged) sender"
check "mhpolicyd still runs" pid_alive "$POLICYD_PID"
check "mhmilter still runs" pid_alive "$MILTER_PID"

echo "# runtime: $(( ($(now_ms) - T_START) / 1000 )) s"
done_testing
