#!/bin/bash
# test_outbound_postfix.sh - the outbound role end to end: a private Postfix
# started from contrib/postfix/outbound.main.cf and outbound.master.cf as an
# admin pastes them (tests/lib/postfix.sh --role outbound: production ports
# 25, 2525, 10025, 465, 10465 mapped to loopback test ports), real TLS (the
# test certificate from contrib/postfix/make-test-cert.sh), real Cyrus SASL
# (sasldb), a real DNS server, Redis and mhpolicyd, in a network namespace
# of its own:
#   - STARTTLS offered on 25, required on 2525 and 10025, SMTPS on 465 and
#     10465; AUTH (PLAIN LOGIN) offered only under TLS;
#   - no AUTH: Postfix's own 554 5.7.1 Relay access denied; a wrong
#     password: 535; a good login: the message reaches the sink through
#     Postfix, with long queue IDs and no login name in Received;
#   - reject_unknown_sender_domain; Postfix's own size limit (51 MB);
#   - mhpolicyd down: 451 4.3.5 (smtpd_policy_service_default_action);
#   - mhpolicyd's outbound counting through Postfix: an unknown account;
#     101 recipients -> 100 accepted, the 101st 452 4.5.3; a recipient that
#     does not fit in what is left refused at RCPT; a 12 MB message to 3
#     recipients counts 6; over 50 MB -> 552 5.3.4 from
#     mhpolicyd (announced at RCPT, real at END-OF-DATA); a limit of 150
#     (one block): the 150th relay accepted, the 151st refused, and a
#     message that passed RCPT refused whole at END-OF-DATA when another
#     one took the last relay; the Redis counter equals what reached the sink.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/dns.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"
need_cmd saslpasswd2 openssl
swaks_supports TLS || skip_all "swaks without TLS (install libnet-ssleay-perl)"

POLICYD=${MHPOLICYD:?MHPOLICYD: path of the built mhpolicyd}
MHLIST=${MHLIST:?MHLIST: path of the built mhlist}
T_START=$(now_ms)
# section NAME - a comment line with the time since the start
section() { echo "# ---- $* (t=$(( ($(now_ms) - T_START) / 1000 )) s)"; }

# --- the world: DNS, the destination's MX (a sink), Redis, mhpolicyd -----------------
cat >"$TMP/zone" <<'ZONE'
customer.test ZONE
customer.test MX 10 mail.customer.test.
mail.customer.test A 192.0.2.80
dest.test ZONE
dest.test MX 10 mx.dest.test.
mx.dest.test A 127.0.0.5
nx.test ZONE
ZONE
dns_start "$TMP/zone"
sink_start dest 25 --host 127.0.0.5		# every recipient's MX

redis_start
PPORT=$(free_port)
SPORT=$(free_port)
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF" "policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; };
dns = { servers = [\"127.0.0.1@53\"]; timeout = \"2s\"; };"
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null || fail "mhlist $*"; }
# one account per check, so that no check eats another's quota
mh account add proto@customer.test --blocks 1		# the protocol checks
mh account add alice@customer.test --blocks 1		# the limit of 150
mh account add many@customer.test --blocks 1		# 101 recipients
mh account add big@customer.test --blocks 1		# sizes

start_bg mhpolicyd "$POLICYD" -c "$CONF" -f ${POLICYD_VERBOSE:-}
POLICYD_PID=$BG_PID
wait_until 10 grep -q "redis .*connect\|ready" "$TMP/mhpolicyd.log" || hard_error "mhpolicyd did not start: $(cat "$TMP/mhpolicyd.log")"

# --- Postfix in the outbound role, as contrib/postfix has it ----------------------------
section "Postfix start"
# Only the policy service's address changes; outbound mail goes by MX (the
# test DNS), as in production.
postfix_start out --role outbound \
	--subst "inet:127.0.0.1:10027=inet:127.0.0.1:$PPORT" \
	'default_transport = smtp' 'relay_transport = relay' 'smtp_host_lookup = dns'
P25=$(postfix_port out 25)
P2525=$(postfix_port out 2525)
P10025=$(postfix_port out 10025)
P465=$(postfix_port out 465)
P10465=$(postfix_port out 10465)
echo "# ports: ${PF_PORTMAP[out]} (production=test)"
assert_not_contains "$(cat "$(postfix_dir out)/start.log" "$(postfix_log out)")" "unused parameter" \
	"contrib fragments: every parameter is used (postconf says nothing)"
assert_eq "inet:127.0.0.1:$PPORT" \
	"$(postfix_postconf out -h mh_outbound_recipient_restrictions | grep -o 'inet:127.0.0.1:[0-9]*')" \
	"the policy service is the test's mhpolicyd"

PW=s3cret-Pass
for u in proto alice many big nobody; do
	postfix_sasl_user out "$u@customer.test" "$PW"
done

# tsend DEST FROM TO [swaks args] - send_mail, with swaks' TLS marks (~>, <~, <~*)
#   read as the plain ones, so that smtp_reply and friends see TLS sessions too;
#   the transcript as swaks printed it stays in T_RAW
tsend() {
	send_mail "$@"
	T_RAW=$T_OUT
	T_OUT=$(printf '%s\n' "$T_RAW" | sed -e 's/^ ~> / -> /' -e 's/^<~  /<-  /' -e 's/^<~\* /<** /')
}

# asend USER DEST FROM TO [swaks args] - tsend, logged in (AUTH PLAIN) as USER@customer.test
asend() {
	local user=$1
	shift
	tsend "$@" --auth PLAIN --auth-user "$user@customer.test" --auth-password "$PW"
}

# ehlo_lines - the EHLO keywords (250-X / 250 X) of the last EHLO in T_RAW
ehlo_lines() {
	printf '%s\n' "$T_RAW" | awk '
		/^ (->|~>) EHLO/ { n++; keep = 1; delete l; c = 0; next }
		keep && /^(<-|<~) +250[- ]/ { l[++c] = substr($0, 9); next }
		keep { keep = 0 }
		END { for (i = 1; i <= c; i++) print l[i] }'
}

# raw_smtp PORT CMD... - a plain-text dialog: the reply (last line) to each CMD
raw_smtp() {
	local port=$1 line cmd
	shift
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	while IFS= read -r -t 5 line <&3 && [ "${line:3:1}" = - ]; do :; done	# banner
	for cmd in "$@"; do
		printf '%s\r\n' "$cmd" >&3
		while IFS= read -r -t 5 line <&3; do
			line=${line%$'\r'}
			[ "${line:3:1}" = - ] || break
		done
		echo "$line"
	done
	exec 3>&- 3<&-
}

# --- a Python client for bulk and big messages (swaks needs ~0.3 s a message
# and ~30 s for 50 MB); stdlib smtplib, TLS without verification (test cert)
cat >"$TMP/smtpc.py" <<'PY'
"""smtpc.py PORT starttls|smtps USER PASS CMD ...
  batch FROM TO[,TO...] COUNT SIZE [MAILSIZE]  COUNT messages on one session
  race FROM TO_A TO_B     A: MAIL, RCPT; B: MAIL, RCPT, DATA; then A: DATA
Prints one line for each refused MAIL or RCPT and for each end of DATA:
  msg I mail|rcpt <ADDR>|data CODE TEXT"""
import smtplib, ssl, sys

def session(port, mode, user, password):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if mode == "smtps":
        s = smtplib.SMTP_SSL("127.0.0.1", port, local_hostname="client.test", context=ctx, timeout=60)
    else:
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=60)
        s.starttls(context=ctx)
    s.ehlo("client.test")
    s.login(user, password)
    return s

def body(size, tag):
    head = ("From: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@client.test>\r\n\r\n" % (FROM, tag, tag)).encode()
    line = b"a" * 76 + b"\r\n"
    n = max(0, size - len(head))
    return head + line * (n // len(line)) + b"b" * (n % len(line))

def out(*a):
    print(*a, flush=True)

def txt(code, msg):
    return "%d %s" % (code, msg.decode(errors="replace").replace("\n", " "))

def transaction(s, i, rcpts, size, mailsize=None):
    opts = ["SIZE=%d" % mailsize] if mailsize else []
    code, msg = s.mail(FROM, opts)
    if code != 250:
        out("msg %d mail %s" % (i, txt(code, msg)))
        s.rset()
        return
    ok = 0
    for r in rcpts:
        code, msg = s.rcpt(r)
        if code in (250, 251):
            ok += 1
        else:
            out("msg %d rcpt <%s> %s" % (i, r, txt(code, msg)))
    if ok == 0:
        s.rset()
        return
    code, msg = s.data(body(size, "%s-%d" % (TAG, i)))
    out("msg %d data %s" % (i, txt(code, msg)))

port, mode, user, password, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
args = sys.argv[6:]
FROM = args[0]
TAG = "%s-%s" % (user.split("@")[0], cmd)
if cmd == "batch":
    rcpts, count, size = args[1].split(","), int(args[2]), int(args[3])
    mailsize = int(args[4]) if len(args) > 4 else None
    TAG = "%s-%d" % (TAG, size)
    s = session(port, mode, user, password)
    for i in range(1, count + 1):
        transaction(s, i, rcpts, size, mailsize)
    s.quit()
elif cmd == "race":
    a, b = session(port, mode, user, password), session(port, mode, user, password)
    for s, r, name in ((a, args[1], "a"), (b, args[2], "b")):
        s.mail(FROM)
        code, msg = s.rcpt(r)
        out("%s rcpt <%s> %s" % (name, r, txt(code, msg)))
    for s, name in ((b, "b"), (a, "a")):
        code, msg = s.data(body(300, "%s-race-%s" % (TAG, name)))
        out("%s data %s" % (name, txt(code, msg)))
    a.quit()
    b.quit()
PY
# smtpc PORT-NAME USER ARGS... - run it as USER@customer.test (mode from the port)
smtpc() {
	local port=$1 mode=starttls user=$2
	shift 2
	case $port in "$P465" | "$P10465") mode=smtps ;; esac
	run python3 "$TMP/smtpc.py" "$port" "$mode" "$user@customer.test" "$PW" "$@"
	[ -z "$T_ERR" ] || echo "# smtpc: $T_ERR" | tail -n 3
}

# used USER - today's relays in Redis: mh:{acct:USER}:used:DAY, DAY from Redis's clock
used() {
	local v
	v=$(redis_cli redis GET "mh:{acct:$1}:used:$(( $(redis_cli redis TIME | head -n 1) / 86400 ))")
	echo "${v:-0}"
}

# sink_rcpts_from SENDER - recipients of the messages from SENDER that reached the sink
sink_rcpts_from() {
	local f n=0
	for f in $(grep -l -m 1 -F "X-Sink-Mail-From: <$1>" "$(sink_dir dest)"/msg/*.eml 2>/dev/null); do
		n=$((n + $(sed '/^$/q' "$f" | grep -c '^X-Sink-Rcpt-To:')))
	done
	echo "$n"
}
sink_rcpts_at_least() { [ "$(sink_rcpts_from "$1")" -ge "$2" ]; }

# The counters must stay on one day: start at least 60 s before 00:00 UTC
# by Redis's clock (waits at most 60 s, and only then)
left_today=$(( 86400 - $(redis_cli redis TIME | head -n 1) % 86400 ))
[ "$left_today" -lt 60 ] && { echo "# waiting ${left_today}s for 00:00 UTC"; sleep "$left_today"; }

# ==== TLS and AUTH on every port ==========================================================
section "TLS and AUTH on every port"
tsend "$P25" proto@customer.test x@dest.test --quit-after EHLO
assert_match "$(ehlo_lines)" '^STARTTLS$' "25: STARTTLS offered"
assert_not_contains "$(ehlo_lines)" "AUTH" "25: no AUTH before STARTTLS"
assert_eq "503 5.5.1 Error: authentication not enabled" "$(raw_smtp "$P25" 'EHLO client.test' 'AUTH PLAIN AHByb3RvQGN1c3RvbWVyLnRlc3QAeA==' | tail -n 1)" \
	"25: AUTH sent before STARTTLS is refused"
tsend "$P25" proto@customer.test x@dest.test --tls --quit-after EHLO
assert_match "$(ehlo_lines)" '^AUTH PLAIN LOGIN$' "25: AUTH PLAIN LOGIN under TLS"
assert_match "$(ehlo_lines)" '^SIZE 53477376$' "25: SIZE 51 MB (message_size_limit above the 50 MB that mhpolicyd enforces)"

for p in 2525 10025; do
	port=$(postfix_port out "$p")
	tsend "$port" proto@customer.test x@dest.test --quit-after EHLO
	assert_match "$(ehlo_lines)" '^STARTTLS$' "$p: STARTTLS offered"
	assert_not_contains "$(ehlo_lines)" "AUTH" "$p: no AUTH before STARTTLS"
	tsend "$port" proto@customer.test x@dest.test
	assert_eq "530 5.7.0 Must issue a STARTTLS command first" "$(smtp_reply 'MAIL FROM:')" "$p: STARTTLS required"
	asend proto "$port" proto@customer.test "p$p@dest.test" --tls --header "Message-ID: <port-$p@client.test>"
	assert_match "$(smtp_data_reply)" '^250 2\.0\.0 Ok: queued as ' "$p: STARTTLS + AUTH: accepted"
done
for p in 465 10465; do
	port=$(postfix_port out "$p")
	asend proto "$port" proto@customer.test "p$p@dest.test" --tlsc --header "Message-ID: <port-$p@client.test>"
	assert_match "$(ehlo_lines)" '^AUTH PLAIN LOGIN$' "$p: SMTPS: AUTH offered at once"
	assert_match "$(smtp_data_reply)" '^250 2\.0\.0 Ok: queued as ' "$p: SMTPS + AUTH: accepted"
done

# ==== who may relay =======================================================================
section "who may relay"
tsend "$P25" proto@customer.test x@dest.test --tls
assert_eq "554 5.7.1 <x@dest.test>: Relay access denied" "$(smtp_rcpt_reply x@dest.test)" "25: no AUTH: Postfix's own Relay access denied"
tsend "$P465" proto@customer.test x@dest.test --tlsc
assert_eq "554 5.7.1 <x@dest.test>: Relay access denied" "$(smtp_rcpt_reply x@dest.test)" "465: no AUTH: Relay access denied"
tsend "$P25" proto@customer.test x@dest.test --tls --auth PLAIN --auth-user proto@customer.test --auth-password wrong
assert_eq "535 5.7.8 Error: authentication failed: authentication failure" "$(smtp_reply 'AUTH PLAIN')" "wrong password: 535"
assert_eq 28 "$T_RC" "wrong password: swaks gives up (28)"
tsend "$P2525" proto@customer.test x@dest.test --tls --auth LOGIN --auth-user ghost@customer.test --auth-password "$PW"
assert_eq "535 5.7.8 Error: authentication failed: authentication failure" \
	"$(printf '%s\n' "$T_OUT" | sed -n 's/^<\*\* \(535 .*\)/\1/p')" "unknown user (LOGIN): 535"

asend proto "$P25" proto@customer.test bob@dest.test --tls \
	--header 'Message-ID: <good-1@client.test>' --header 'Subject: outbound'
assert_match "$(smtp_data_reply)" '^250 2\.0\.0 Ok: queued as ' "good AUTH: accepted"
qid=$(smtp_queue_id)
# long form: seconds and microseconds, "z", the inode (short IDs are upper-case hex)
assert_match "$qid" '^[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+$' \
	"long queue ID ($qid): unique across nodes (enable_long_queue_ids)"
sink_wait dest 1 20
m=$(sink_find dest Message-ID '<good-1@client.test>')
assert_eq 1 "$(printf '%s\n' "$m" | grep -c .)" "good AUTH: delivered once, by MX, to the sink"
if [ -n "$m" ]; then
	assert_eq "<proto@customer.test>" "$(sink_header "$m" X-Sink-Mail-From)" "envelope sender kept"
	assert_eq "<bob@dest.test>" "$(sink_header "$m" X-Sink-Rcpt-To)" "envelope recipient kept"
	rcvd=$(sink_header "$m" Received | grep 'by out\.test')
	assert_match "$rcvd" 'using TLSv1\.[23] with cipher' "Received: names the TLS session"
	assert_match "$rcvd" "with ESMTPSA id $qid" "Received: ESMTPSA (TLS + AUTH)"
	assert_not_contains "$rcvd" "proto" "Received: no login name (smtpd_sasl_authenticated_header = no)"
fi
for p in 2525 10025 465 10465; do
	sink_wait dest 5 20
	assert_eq 1 "$(sink_find dest Message-ID "<port-$p@client.test>" | grep -c .)" "$p: delivered"
done

asend proto "$P25" bob@nx.test x@dest.test --tls
assert_eq "450 4.1.8 <bob@nx.test>: Sender address rejected: Domain not found" "$(smtp_rcpt_reply x@dest.test)" \
	"sender domain that does not resolve: reject_unknown_sender_domain"

# Postfix's own limit, 1 MB above mhpolicyd's 50 MB: its own wording
section "Postfix's size limit"
smtpc "$P25" proto batch proto@customer.test x@dest.test 1 300 $((53477376 + 1))
assert_eq "msg 1 mail 552 5.3.4 Message size exceeds fixed limit" "$T_OUT" "SIZE= over 51 MB: Postfix refuses at MAIL FROM"
t0=$(now_ms)
smtpc "$P25" proto batch proto@customer.test x@dest.test 1 $((52 * 1048576))
assert_eq "msg 1 data 552 5.3.4 Error: message file too big" "$T_OUT" "52 MB sent without SIZE=: Postfix refuses at the end ($(( $(now_ms) - t0 )) ms)"

# ==== mhpolicyd's outbound counting through Postfix ===================================
section "mhpolicyd's outbound counting through Postfix"
# the messages of the checks above: one relay each, the refused ones none
assert_eq 5 "$(used proto@customer.test)" "counter: the 5 messages accepted above, refused ones not counted"

# an authenticated login without an mhkit account
asend nobody "$P25" nobody@customer.test x@dest.test --tls
assert_eq "554 5.7.1 <x@dest.test>: Recipient address rejected: <nobody@customer.test>: no outbound service" \
	"$(smtp_rcpt_reply x@dest.test)" "login without an account: 554 no outbound service"

# -- 101 recipients: 100 accepted, the 101st 452 4.5.3 (many@, 150 a day)
section "101 recipients"
smtpc "$P2525" many batch many@customer.test "$(seq -f 'r%g@dest.test' 1 101 | paste -sd ,)" 1 300
assert_eq "msg 1 rcpt <r101@dest.test> 452 4.5.3 <r101@dest.test>: Recipient address rejected: Error: too many recipients" \
	"$(sed -n 1p <<<"$T_OUT")" "101 recipients: the 101st refused, 452 4.5.3"
assert_match "$(sed -n 2p <<<"$T_OUT")" '^msg 1 data 250 2\.0\.0 Ok: queued as ' "101 recipients: the message goes with 100"
assert_eq 2 "$(grep -c . <<<"$T_OUT")" "101 recipients: no other refusal"
assert_eq 100 "$(used many@customer.test)" "101 recipients: counted 100"
# -- 51 more: 50 fit in what is left, the 51st is refused at RCPT
section "51 more"
smtpc "$P2525" many batch many@customer.test "$(seq -f 's%g@dest.test' 1 51 | paste -sd ,)" 1 300
assert_eq "msg 1 rcpt <s51@dest.test> 452 4.7.1 <s51@dest.test>: Recipient address rejected: Daily relay limit of 150 reached for many@customer.test; resets at 00:00 UTC" \
	"$(sed -n 1p <<<"$T_OUT")" "a recipient that does not fit in what is left: refused at RCPT"
assert_match "$(sed -n 2p <<<"$T_OUT")" '^msg 1 data 250 ' "... and the message goes with the 50 that fit"
assert_eq 150 "$(used many@customer.test)" "counter at the limit: 150"
wait_until 30 sink_rcpts_at_least many@customer.test 150
assert_eq 150 "$(sink_rcpts_from many@customer.test)" "many@: the sink got exactly the 150 counted recipients"

# -- sizes (big@): 12 MB x 3 recipients = 6; over 50 MB refused by mhpolicyd
section "sizes"
smtpc "$P465" big batch big@customer.test t1@dest.test,t2@dest.test,t3@dest.test 1 $((12 * 1048576))
assert_match "$T_OUT" '^msg 1 data 250 2\.0\.0 Ok: queued as ' "12 MB to 3 recipients: accepted (SMTPS)"
assert_eq 6 "$(used big@customer.test)" "12 MB to 3 recipients counts 6 (x2 from 10 MB)"
smtpc "$P465" big batch big@customer.test x@dest.test 1 300 $((52428800 + 1))
assert_eq "msg 1 rcpt <x@dest.test> 552 5.3.4 <x@dest.test>: Recipient address rejected: Message size exceeds fixed limit" \
	"$T_OUT" "SIZE= 50 MB + 1 announced: mhpolicyd refuses at RCPT"
smtpc "$P465" big batch big@customer.test x@dest.test 1 $((52428800 + 262144))
assert_eq "msg 1 data 552 5.3.4 <END-OF-MESSAGE>: End-of-data rejected: Message size exceeds fixed limit" \
	"$T_OUT" "50.25 MB sent without SIZE=: mhpolicyd refuses at END-OF-DATA (Postfix's limit is 51 MB)"
assert_eq 6 "$(used big@customer.test)" "refused messages are not counted"
wait_until 30 sink_rcpts_at_least big@customer.test 3
assert_eq 3 "$(sink_rcpts_from big@customer.test)" "big@: the 12 MB message reached the sink for its 3 recipients"

# -- the limit of 150 with one block (alice@)
section "the limit of 150 with one block"
t0=$(now_ms)
smtpc "$P25" alice batch alice@customer.test a@dest.test 149 300
assert_eq 149 "$(grep -c '^msg [0-9]* data 250 ' <<<"$T_OUT")" "149 messages of 1 relay accepted on one session ($(( $(now_ms) - t0 )) ms)"
assert_eq 149 "$(grep -c . <<<"$T_OUT")" "... and nothing refused"
assert_eq 149 "$(used alice@customer.test)" "counter: 149"
# two messages for the last relay: both pass RCPT (a forecast), the one
# that reaches END-OF-DATA first is the 150th, the other is refused whole
smtpc "$P10025" alice race alice@customer.test ra@dest.test rb@dest.test
assert_eq "a rcpt <ra@dest.test> 250 2.1.5 Ok" "$(sed -n 1p <<<"$T_OUT")" "race: A passes RCPT with 1 relay left"
assert_eq "b rcpt <rb@dest.test> 250 2.1.5 Ok" "$(sed -n 2p <<<"$T_OUT")" "race: B passes RCPT too"
assert_match "$(sed -n 3p <<<"$T_OUT")" '^b data 250 2\.0\.0 Ok: queued as ' "race: B ends first: the 150th relay is accepted"
assert_eq "a data 452 4.7.1 <END-OF-MESSAGE>: End-of-data rejected: Daily relay limit of 150 reached for alice@customer.test; resets at 00:00 UTC" \
	"$(sed -n 4p <<<"$T_OUT")" "race: A is refused at END-OF-DATA, in one atomic step"
assert_eq 150 "$(used alice@customer.test)" "counter: 150"
asend alice "$P25" alice@customer.test last@dest.test --tls
assert_eq "452 4.7.1 <last@dest.test>: Recipient address rejected: Daily relay limit of 150 reached for alice@customer.test; resets at 00:00 UTC" \
	"$(smtp_rcpt_reply last@dest.test)" "the 151st relay: refused at RCPT with the SPEC's reply"
assert_eq 150 "$(used alice@customer.test)" "counter stays at 150"
wait_until 30 sink_rcpts_at_least alice@customer.test 150
assert_eq 150 "$(sink_rcpts_from alice@customer.test)" "alice@: the sink got exactly 150 recipients, the Redis counter's 150"
assert_eq 0 "$(grep -l -F '<ra@dest.test>' "$(sink_dir dest)"/msg/*.eml 2>/dev/null | grep -c .)" "the refused racer never left"

# ==== mhpolicyd down: Postfix's default action ============================================
section "mhpolicyd down: Postfix's default action"
stop_pid "$POLICYD_PID" TERM
asend proto "$P25" proto@customer.test down@dest.test --tls
assert_eq "451 4.3.5 <down@dest.test>: Recipient address rejected: Policy service unavailable; try again later" \
	"$(smtp_rcpt_reply down@dest.test)" "mhpolicyd down: 451 4.3.5, never relayed uncounted"

echo "# runtime: $(( ($(now_ms) - T_START) / 1000 )) s"
done_testing
