#!/bin/bash
# scripts/demo-stack.sh - the whole stack on one machine, mail flowing
# through every role; run by scripts/demo.sh (which builds first), as root.
#
# Everything runs in a network namespace of its own (tests/lib/isolate.sh):
# only loopback, a private DNS server on 127.0.0.1:53 that the namespace's
# resolv.conf names, so Postfix and mhpolicyd resolve the example zones
# below and nothing reaches the Internet. In it: a private Redis, mhpolicyd,
# mhmilter,
# two private Postfix instances set up from contrib/postfix as an admin
# would (the relay/backup-MX node, and the outbound node with STARTTLS,
# SMTPS and Cyrus SASL), and small SMTP servers standing for the
# customers' own servers and for the rest of the Internet. The domains and
# the account are made with mhlist. Every message is sent with swaks.
#
# Each step prints what the client saw (the SMTP reply) and, for mail that
# was accepted, the message as it arrived, with its headers; each is also
# checked ("ok N - ..."), and the demo fails if any message does not
# arrive or any reply is not the one SPEC.md gives. Everything started is
# stopped by PID on exit (tests/lib/common.sh).
#
# Environment: MHPOLICYD, MHMILTER, MHLIST (built programs), TESTS_LIB (tests/lib).
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../tests/lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/dns.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"
. "$TESTS_LIB/spamd.sh"
. "$TESTS_LIB/clamd.sh"
need_cmd swaks saslpasswd2 openssl
swaks_supports TLS || skip_all "swaks without TLS (install libnet-ssleay-perl)"

POLICYD=${MHPOLICYD:?MHPOLICYD: path of the built mhpolicyd}
MILTER=${MHMILTER:?MHMILTER: path of the built mhmilter}
MHLIST=${MHLIST:?MHLIST: path of the built mhlist}
NODE=mx1.mhkit.example		# this node's name: the customers' MX records point here
B=$'\033[1m' N=$'\033[0m'
[ -t 1 ] || B= N=

# step TITLE - a heading; say TEXT - a line of explanation
step() { printf '\n%s==== %s%s\n' "$B" "$*" "$N"; }
say() { printf '  %s\n' "$*"; }
# shell LINE - show a command as the admin would type it
shell() { printf '  %s$ %s%s\n' "$B" "$*" "$N"; }
# mh ARGS... - mhlist, shown and run
mh() {
	shell "mhlist $*"
	"$MHLIST" -c "$CONF" "$@" 2>&1 | sed 's/^/    /'
	[ "${PIPESTATUS[0]}" = 0 ] || fail "mhlist $*"
}
# dialog - the last send as the client saw it: its STARTTLS, AUTH, MAIL,
#   RCPT and end-of-message commands with the server's replies
dialog() {
	printf '%s\n' "$T_OUT" | awk '
		/^ (->|~>) (STARTTLS|AUTH|MAIL|RCPT|\.$)/ {
			c = substr($0, 5); if (c == ".") c = ". (end of message)"
			print "    C: " c; show = 1; next }
		/^ (->|~>) / { show = 0; next }
		show && /^(<-|<~|<\*\*|<~\*) +[0-9][0-9][0-9][ -]/ { sub(/^[^ ]+ +/, ""); print "    S: " $0 }'
}
# arrived SINK MESSAGE-ID - show the message as SINK stored it (headers, first body line)
arrived() {
	local m
	m=$(sink_find "$1" Message-ID "$2" | head -n 1)
	[ -n "$m" ] || return 1
	say "arrived at $1 (port $(sink_header "$m" X-Sink-Port)):"
	sed -n '1,/^$/p' "$m" | sed 's/^/    | /'
	sed '1,/^$/d' "$m" | head -n 1 | sed 's/^/    | /'
}
# tsend DEST FROM TO [swaks args] - send_mail, TLS marks read as the plain ones
tsend() {
	send_mail "$@"
	T_OUT=$(printf '%s\n' "$T_OUT" | sed -e 's/^ ~> / -> /' -e 's/^<~  /<-  /' -e 's/^<~\* /<** /')
}

# --- the world ------------------------------------------------------------------------
step "The world: DNS, the customers' servers, Redis, mhpolicyd"
isolate_addr_add 192.0.2.10 192.0.2.25	# clients on the Internet; a DNSBL lists the second
cat >"$TMP/zone" <<ZONE
mhkit.example ZONE
$NODE A 127.0.0.1
example.com ZONE
example.com MX 10 $NODE.
mail.example.com A 127.0.0.5
example.net ZONE
example.net MX 10 mail.example.net.
example.net MX 20 $NODE.
mail.example.net A 127.0.0.6
example.org ZONE
example.org MX 10 mx.example.org.
mx.example.org A 127.0.0.7
example.org TXT "v=spf1 ip4:192.0.2.0/24 -all"
customer.example ZONE
customer.example MX 10 $NODE.
bl.example ZONE
25.2.0.192.bl.example A 127.0.0.2
25.2.0.192.bl.example TXT "Listed: see http://bl.example/192.0.2.25"
ZONE
dns_start "$TMP/zone"
say "DNS (in this namespace only): example.com MX 10 $NODE (relay customer, server mail.example.com);"
say "example.net MX 10 mail.example.net, MX 20 $NODE (backup customer); example.org: the rest of the Internet;"
say "bl.example: a DNSBL listing 192.0.2.25"
sink_start relay-customer 2525 --host 127.0.0.5 \
	--rule 'rcpt carol@example.com 550 5.1.1 <carol@example.com>: User unknown in virtual mailbox table'
	# example.com's server, on the port the customer chose; carol has left the company
sink_start internet 25 --host 127.0.0.7		# example.org's MX: where outbound mail goes
say "example.com's server listens on 127.0.0.5:2525 (its ISP blocks port 25); example.org's MX on 127.0.0.7:25;"
say "example.net's server (127.0.0.6:25) is down for now"

say "spamd (SpamAssassin, no network checks, one extra rule: \"cheap pills\" scores 3.0) and clamd (a signature"
say "database of our own: nothing is downloaded) start; spamd takes a minute to read its rules"
spamd_start 'body DEMO_PILLS /cheap pills/i' 'score DEMO_PILLS 3.0' 'describe DEMO_PILLS the demo rule'
clamd_start
redis_start --appendonly yes
PPORT=$(free_port)
SPORT=$(free_port)
MPORT=$(free_port)
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF" "policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; };
milter = { listen = \"inet:127.0.0.1:$MPORT\"; spamd = \"inet:127.0.0.1:$SPAMD_PORT\"; clamd = \"unix:$CLAMD_SOCK\"; };
node = { hostnames = [\"$NODE\"]; };
dns = { servers = [\"127.0.0.1@53\"]; timeout = \"2s\"; };"
say "Redis on 127.0.0.1:$(redis_port); mhkit.conf:"
sed 's/^/    | /' "$CONF"

step "The customers, made with mhlist (Redis is the one source of truth)"
mh domain add example.com --service relay --dest mail.example.com --port 2525 --dnsbls bl.example --userlist on
printf 'bob\nalice\ncarol\n' >"$TMP/users.txt"
mh users import example.com "$TMP/users.txt"
mh blacklist add example.com @spam.example
mh domain add example.net --service backup
mh account add alice@customer.example --blocks 1
mh domain list

start_bg mhpolicyd "$POLICYD" -c "$CONF" -f
wait_until 10 grep -q "ready" "$TMP/mhpolicyd.log" || hard_error "mhpolicyd did not start: $(cat "$TMP/mhpolicyd.log")"
say "mhpolicyd: policy service on 127.0.0.1:$PPORT, routing socketmap on 127.0.0.1:$SPORT"
start_bg mhmilter "$MILTER" -c "$CONF" -f
wait_until 10 grep -q "ready" "$TMP/mhmilter.log" || hard_error "mhmilter did not start: $(cat "$TMP/mhmilter.log")"
say "mhmilter: milter on 127.0.0.1:$MPORT (user lists, sender lists, size, spamd, clamd)"

# --- Postfix, from contrib/postfix ------------------------------------------------------
step "Postfix: the relay/backup-MX node and the outbound node, from contrib/postfix"
postfix_start mx1 --role relay \
	--subst "inet:127.0.0.1:10027=inet:127.0.0.1:$PPORT" \
	--subst "inet:127.0.0.1:10029=inet:127.0.0.1:$SPORT" \
	--subst "inet:127.0.0.1:10028=inet:127.0.0.1:$MPORT" \
	"myhostname = $NODE" 'default_transport = smtp' 'relay_transport = relay'
MX=$(postfix_port mx1 25)
postfix_start out --role outbound \
	--subst "inet:127.0.0.1:10027=inet:127.0.0.1:$PPORT" \
	"myhostname = out1.mhkit.example" 'default_transport = smtp' 'relay_transport = relay' \
	'smtp_host_lookup = dns'
OUT=$(postfix_port out 2525)
OUT465=$(postfix_port out 465)
PW=demo-Passw0rd
postfix_sasl_user out alice@customer.example "$PW"
say "relay/backup MX ($NODE): port 25 is 127.0.0.1:$MX here (relay.main.cf, relay.master.cf)"
say "outbound: 2525 (STARTTLS) is 127.0.0.1:$OUT, 465 (SMTPS) is 127.0.0.1:$OUT465 here;"
say "alice@customer.example has a SASL password (saslpasswd2) and 1 block of 150 relays a day"

# rsend FROM TO [swaks args] - to the MX, from 192.0.2.10 (a client on the Internet, not in mynetworks)
rsend() {
	local from=$1 to=$2
	shift 2
	send_mail "$MX" "$from" "$to" --local-interface 192.0.2.10 "$@"
}

# --- relay ------------------------------------------------------------------------------
step "Relay: mail for example.com goes to the customer's server on port 2525"
shell "swaks --to bob@example.com --server $NODE:25"
rsend sender@example.org bob@example.com --header 'Message-ID: <demo-relay-1@example.org>' \
	--header 'Subject: hello through the relay' --body 'Delivered on the port the customer chose.'
dialog
assert_match "$(smtp_data_reply)" '^250 2\.0\.0 Ok: queued as ' "relay: accepted"
sink_wait relay-customer 1 30
arrived relay-customer '<demo-relay-1@example.org>'
check "relay: delivered to mail.example.com on port 2525" test -n "$(sink_find relay-customer Message-ID '<demo-relay-1@example.org>')"

step "Relay: spam and viruses (mhmilter with spamd and clamd; example.com: tag at 5.0, discard at 10.0)"
say "a message that scores about 7 (\"cheap pills\" 3.0, and 3.7 from SpamAssassin's own RCVD_ILLEGAL_IP: the demo's client, 192.0.2.10, is a documentation address): tagged and delivered"
rsend sender@example.org bob@example.com --header 'Message-ID: <demo-spam-1@example.org>' \
	--header 'Subject: an offer' --body 'Cheap pills, today only.'
assert_match "$(smtp_data_reply)" '^250 ' "spam: a message over the tag limit accepted"
sink_wait relay-customer 2 30
arrived relay-customer '<demo-spam-1@example.org>'
m=$(sink_find relay-customer Message-ID '<demo-spam-1@example.org>')
check "spam: delivered with X-Spam-Flag: YES" test "$(sink_header "$m" X-Spam-Flag)" = YES
assert_eq "[SPAM] an offer" "$(sink_header "$m" Subject)" "spam: the subject tagged"
say "GTUBE (the standard test spam, score 1000): over the discard limit, accepted and dropped"
rsend sender@example.org bob@example.com --header 'Message-ID: <demo-spam-2@example.org>' \
	--body 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
dialog
assert_match "$(smtp_data_reply)" '^250 ' "spam: GTUBE accepted (discard_action = discard)"
sleep 2
check "spam: GTUBE never delivered" test -z "$(sink_find relay-customer Message-ID '<demo-spam-2@example.org>')"
say "mhmilter's log: $(grep -o 'discard: END-OF-MESSAGE.*' "$TMP/mhmilter.log" | head -n 1)"
say "a message with an infected attachment:"
clamd_mail_with_signature "$TMP/virus.eml"
rsend sender@example.org bob@example.com --data "@$TMP/virus.eml"
dialog
assert_eq "554 5.7.1 Message rejected: virus $CLAMD_SIG_NAME found" "$(smtp_data_reply)" "virus: refused with its name"

step "Relay: refusals"
say "a client that bl.example lists:"
send_mail "$MX" sender@example.org bob@example.com --local-interface 192.0.2.25
dialog
assert_eq "554 5.7.1 <bob@example.com>: Recipient address rejected: Service unavailable; Client host [192.0.2.25] blocked using bl.example; Listed: see http://bl.example/192.0.2.25" \
	"$(smtp_rcpt_reply bob@example.com)" "relay: a DNSBL-listed client refused with the list's reason"
say "a local part that is not on example.com's user list (mhmilter):"
rsend sender@example.org nobody@example.com
dialog
assert_eq "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown" \
	"$(smtp_rcpt_reply nobody@example.com)" "relay: a user not on the list refused"
say "carol is on example.com's user list, but the customer's server no longer knows her: mhpolicyd's"
say "call-ahead asks mail.example.com:2525 before Postfix accepts, and caches the answer for every node:"
rsend sender@example.org carol@example.com
dialog
assert_eq "550 5.1.1 <carol@example.com>: Recipient address rejected: User unknown (verified at mail.example.com:2525: \"5.1.1 <carol@example.com>: User unknown in virtual mailbox table\")" \
	"$(smtp_rcpt_reply carol@example.com)" "relay: the call-ahead refuses a user the customer's server does not know"
shell mhlist cache show carol@example.com
"$MHLIST" -c "$CONF" cache show carol@example.com 2>&1 | sed 's/^/    /' || true
say "a sender on example.com's blacklist (mhmilter):"
rsend promo@spam.example bob@example.com
dialog
assert_eq "550 5.7.1 <promo@spam.example>: Sender address rejected: Access denied" \
	"$(smtp_rcpt_reply bob@example.com)" "relay: a blacklisted sender refused"
say "a domain that is not a customer's:"
rsend sender@example.org someone@example.org
dialog
assert_eq "554 5.7.1 <someone@example.org>: Relay access denied" "$(smtp_rcpt_reply someone@example.org)" \
	"relay: not an open relay"

# --- backup MX --------------------------------------------------------------------------
step "Backup MX: example.net's server is down; we hold its mail and forward it when it returns"
rsend sender@example.org carol@example.net --header 'Message-ID: <demo-backup-1@example.org>' \
	--header 'Subject: held by the backup MX' --body 'Kept in the queue while mail.example.net was down.'
dialog
assert_match "$(smtp_data_reply)" '^250 2\.0\.0 Ok: queued as ' "backup: accepted while the customer's server is down"
qid=$(smtp_queue_id)
postfix_wait_log mx1 "$qid: to=<carol@example.net>.*status=deferred" 30 ||
	fail "backup: no deferral logged"
say "Postfix's log: $(grep -o "$qid: to=<carol@example.net>.*status=deferred.*" "$(postfix_log mx1)" | head -n 1)"
check "backup: the message waits in the queue" test "$(postfix_queue_count mx1)" -ge 1
say "mail.example.net comes back:"
sink_start backup-customer 25 --host 127.0.0.6
postfix_flush mx1
for _ in $(seq 12); do sink_wait backup-customer 1 5 && break; postfix_flush mx1; done
arrived backup-customer '<demo-backup-1@example.org>'
check "backup: forwarded to mail.example.net once it was back" \
	test -n "$(sink_find backup-customer Message-ID '<demo-backup-1@example.org>')"

# --- outbound ---------------------------------------------------------------------------
step "Outbound: alice@customer.example sends through us (STARTTLS, AUTH), counted in Redis"
tsend "$OUT" alice@customer.example dave@example.org --tls --auth PLAIN \
	--auth-user alice@customer.example --auth-password "$PW" \
	--header 'Message-ID: <demo-out-1@customer.example>' --header 'Subject: sent through the outbound relay'
dialog
assert_match "$(smtp_data_reply)" '^250 2\.0\.0 Ok: queued as ' "outbound: accepted after STARTTLS and AUTH"
sink_wait internet 1 30
arrived internet '<demo-out-1@customer.example>'
check "outbound: delivered to example.org's MX" test -n "$(sink_find internet Message-ID '<demo-out-1@customer.example>')"
mh account show alice@customer.example
assert_contains "$("$MHLIST" -c "$CONF" --json account show alice@customer.example)" '"used_today": 1' \
	"outbound: one relay counted"

step "Outbound: refusals"
say "no AUTH:"
tsend "$OUT" alice@customer.example dave@example.org --tls
dialog
assert_eq "554 5.7.1 <dave@example.org>: Relay access denied" "$(smtp_rcpt_reply dave@example.org)" \
	"outbound: no relaying without AUTH"
say "a wrong password (on SMTPS, port 465):"
tsend "$OUT465" alice@customer.example dave@example.org --tlsc --auth PLAIN \
	--auth-user alice@customer.example --auth-password wrong
dialog
assert_eq "535 5.7.8 Error: authentication failed: authentication failure" "$(smtp_reply 'AUTH PLAIN')" \
	"outbound: a wrong password gets Postfix's 535"
say "the rest of today's 150 relays (99 + 50 recipients), then one more:"
rcpts() { local i; for ((i = $1; i <= $2; i++)); do printf '%sr%d@example.org' "${3:-}" "$i"; [ "$i" -lt "$2" ] && printf ,; done; }
tsend "$OUT" alice@customer.example "$(rcpts 1 99)" --tls --auth PLAIN --auth-user alice@customer.example --auth-password "$PW"
assert_match "$(smtp_data_reply)" '^250 ' "outbound: a message to 99 recipients accepted"
tsend "$OUT" alice@customer.example "$(rcpts 100 149)" --tls --auth PLAIN --auth-user alice@customer.example --auth-password "$PW"
assert_match "$(smtp_data_reply)" '^250 ' "outbound: a message to 50 recipients accepted (150 relays today)"
tsend "$OUT" alice@customer.example erin@example.org --tls --auth PLAIN --auth-user alice@customer.example --auth-password "$PW"
dialog
assert_eq "452 4.7.1 <erin@example.org>: Recipient address rejected: Daily relay limit of 150 reached for alice@customer.example; resets at 00:00 UTC" \
	"$(smtp_rcpt_reply erin@example.org)" "outbound: the 151st relay refused with the daily limit"
mh account show alice@customer.example
# rcpts_at SINK - the recipients of every message SINK stored
rcpts_at() {
	local f
	sink_messages "$1" | while read -r f; do sink_header "$f" X-Sink-Rcpt-To; done
}
wait_until 30 eval '[ "$(rcpts_at internet | grep -c .)" -ge 150 ]'
assert_eq 150 "$(rcpts_at internet | grep -c .)" "outbound: 150 recipients arrived at example.org's MX in all"
say "example.org's MX got $(sink_count internet) deliveries for 150 recipients (Postfix sends at most 50 recipients a delivery)"

step "Done"
say "Redis holds everything: $(redis_cli redis DBSIZE) keys"
done_testing
