#!/bin/bash
# test_milter_lists.sh - mhmilter through a real Postfix and a real Redis,
# in a network namespace of its own (client addresses 192.0.2.x and
# 2001:db8::x on loopback): user lists, sender lists (every precedence
# rule, IPv4 and IPv6 CIDR), size per recipient domain (SIZE= announced,
# and a body without SIZE=, and two domains of different limits in one
# message), a change made with mhlist applying at the next transaction,
# and Redis down. Each check is on the exact SMTP reply the client sees,
# or on the message arriving (or not) at the destination.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"

MILTER=${MHMILTER:?MHMILTER: path of the built mhmilter}
MHLIST=${MHLIST:?}
DENIED="Sender address rejected: Access denied"

isolate_addr_add 192.0.2.10 192.0.2.25 198.51.100.7	# 192.0.2.16/28 and 198.51.100.0/24 are blacklisted
IPV6=
if have_ipv6; then
	IPV6=--ipv6
	isolate_addr_add 2001:db8:bad::1 2001:db8:1::1
fi

sink_start dest 2525 --host 127.0.0.5		# every customer's server
redis_start
MPORT=$(free_port)
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF" --redis 'timeout = "1s";' "milter = { listen = \"inet:127.0.0.1:$MPORT\"; };"
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null || fail "mhlist $*"; }
mh domain add example.com --service relay --dest mail.customer.example --port 2525 --userlist on
mh domain add example.net --service relay --dest mail.customer.example --port 2525 --max_size 20000
mh domain add example.org --service relay --dest mail.customer.example --port 2525
printf 'alice\nbob\n' >"$TMP/users"
mh users import example.com "$TMP/users"
mh blacklist add --global @spam.example 198.51.100.0/24
mh blacklist add example.net 192.0.2.16/28 2001:db8:bad::/48 .partner.example
mh whitelist add example.net friend@partner.example
mh blacklist add --global @evil.example
mh whitelist add example.org @evil.example

start_bg mhmilter "$MILTER" -c "$CONF" -f
MILTER_PID=$BG_PID
wait_until 10 grep -q "ready" "$TMP/mhmilter.log" || hard_error "mhmilter did not start: $(cat "$TMP/mhmilter.log")"

postfix_start mx $IPV6 \
	'relay_domains = example.com example.net example.org' \
	'transport_maps = inline:{ example.com=smtp:[127.0.0.5]:2525, example.net=smtp:[127.0.0.5]:2525, example.org=smtp:[127.0.0.5]:2525 }' \
	"smtpd_milters = inet:127.0.0.1:$MPORT" \
	'milter_default_action = tempfail' 'milter_protocol = 6' \
	'mynetworks = 127.0.0.0/8'
MX=$(postfix_port mx)

# send FROM TO [swaks args] - from 192.0.2.10 (not in mynetworks) unless --local-interface follows
send() {
	local from=$1 to=$2
	shift 2
	case " $* " in
	*" --local-interface "*) send_mail "$MX" "$from" "$to" "$@" ;;
	*) send_mail "$MX" "$from" "$to" --local-interface 192.0.2.10 "$@" ;;
	esac
}
rcpt_reply() { smtp_rcpt_reply "$1"; }

# raw_smtp CLIENT-ADDR CMD... - a plain dialog from CLIENT-ADDR; the last reply line to each CMD
raw_smtp() {
	/usr/bin/python3 - "$MX" "$@" <<'PY'
import socket, sys
port, src, cmds = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(src, 0))
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline().decode(errors="replace").rstrip("\r\n")
        if len(line) < 4 or line[3] != "-":
            return line
reply()
for c in cmds:
    if c.startswith("@BODY:"):
        n = int(c[6:])
        line = b"x" * 998 + b"\r\n"
        s.sendall(b"Subject: big\r\n\r\n" + line * (n // 1000) + b".\r\n")
    elif c.startswith("@HEADERS:"):	# @HEADERS:N[:body] - N bytes of headers, then no body or one line
        parts = c.split(":")
        n = int(parts[1])
        hdr = b"".join(b"X-Big-%d: " % i + b"y" * 990 + b"\r\n" for i in range(n // 1000))
        s.sendall(b"Subject: big headers\r\n" + hdr + b"\r\n" + (b"short body\r\n" if parts[2:] else b"") + b".\r\n")
    else:
        s.sendall(c.encode() + b"\r\n")
    print(reply())
    sys.stdout.flush()
PY
}

# --- user lists ------------------------------------------------------------------------
send sender@example.org alice@example.com --header 'Message-ID: <u1@test>'
assert_match "$(smtp_data_reply)" '^250 ' "user list: a listed user accepted"
sink_wait dest 1 20
assert_eq 1 "$(sink_find dest Message-ID '<u1@test>' | grep -c .)" "user list: delivered"
send sender@example.org carol@example.com
assert_eq "550 5.1.1 <carol@example.com>: Recipient address rejected: User unknown" "$(rcpt_reply carol@example.com)" \
	"user list: a local part not on the list refused"
send sender@example.org Alice@Example.COM
assert_match "$(rcpt_reply Alice@Example.COM)" '^250 ' "user list: local parts compared without case"
send sender@example.org anyone@example.org
assert_match "$(rcpt_reply anyone@example.org)" '^250 ' "user list off: anyone accepted"
mh users add example.com carol
send sender@example.org carol@example.com
assert_match "$(rcpt_reply carol@example.com)" '^250 ' "mhlist users add: applies at the next transaction, no reload"

# --- sender lists ------------------------------------------------------------------------
send x@spam.example alice@example.com
assert_eq "550 5.7.1 <x@spam.example>: $DENIED" "$(rcpt_reply alice@example.com)" "global blacklist: a sender domain"
send sender@example.org alice@example.com --local-interface 198.51.100.7
assert_eq "550 5.7.1 <sender@example.org>: $DENIED" "$(rcpt_reply alice@example.com)" "global blacklist: a client IPv4 CIDR"
send sender@example.org bob@example.net --local-interface 192.0.2.25
assert_eq "550 5.7.1 <sender@example.org>: $DENIED" "$(rcpt_reply bob@example.net)" "domain blacklist: a client IPv4 CIDR"
send sender@example.org alice@example.com --local-interface 192.0.2.25
assert_match "$(rcpt_reply alice@example.com)" '^250 ' "...that list is example.net's only: example.com accepts the same client"
send sender@example.org "alice@example.com,bob@example.net" --local-interface 192.0.2.25 --header 'Message-ID: <mixed-1@test>'
assert_match "$(rcpt_reply alice@example.com)" '^250 ' "one transaction: example.com's recipient accepted"
assert_eq "550 5.7.1 <sender@example.org>: $DENIED" "$(rcpt_reply bob@example.net)" "...and example.net's refused (lists are per domain)"
assert_match "$(smtp_data_reply)" '^250 ' "...the message goes to the one accepted"
if [ -n "$IPV6" ]; then
	send_mail "[::1]:$MX" sender@example.org bob@example.net --local-interface 2001:db8:bad::1
	assert_eq "550 5.7.1 <sender@example.org>: $DENIED" "$(rcpt_reply bob@example.net)" "domain blacklist: a client IPv6 CIDR"
	send_mail "[::1]:$MX" sender@example.org bob@example.net --local-interface 2001:db8:1::1
	assert_match "$(rcpt_reply bob@example.net)" '^250 ' "...a client outside it accepted"
else
	echo "# no IPv6 on loopback: the IPv6 CIDR checks are skipped"
fi
send other@partner.example bob@example.net
assert_eq "550 5.7.1 <other@partner.example>: $DENIED" "$(rcpt_reply bob@example.net)" "domain blacklist: .partner.example"
send friend@partner.example bob@example.net
assert_match "$(rcpt_reply bob@example.net)" '^250 ' "a whitelisted sender beats a blacklisted domain of the same list"
send bad@evil.example bob@example.net
assert_eq "550 5.7.1 <bad@evil.example>: $DENIED" "$(rcpt_reply bob@example.net)" "global blacklist applies where the domain says nothing"
send bad@evil.example anyone@example.org
assert_match "$(rcpt_reply anyone@example.org)" '^250 ' "a domain's whitelist beats the global blacklist"
send '<>' alice@example.com --local-interface 198.51.100.7
assert_eq "550 5.7.1 <>: $DENIED" "$(rcpt_reply alice@example.com)" "the null sender from a blacklisted client refused"

# --- size -----------------------------------------------------------------------------------
run raw_smtp 192.0.2.10 'EHLO client.test' 'MAIL FROM:<s@example.org> SIZE=30000' 'RCPT TO:<bob@example.net>' 'RCPT TO:<anyone@example.org>' QUIT
assert_eq "552 5.3.4 Message size exceeds fixed limit" "$(sed -n 3p <<<"$T_OUT")" "SIZE= above the domain's max_size: 552 at RCPT"
assert_match "$(sed -n 4p <<<"$T_OUT")" '^250 ' "...another domain's recipient with a larger limit accepted"
run raw_smtp 192.0.2.10 'EHLO client.test' 'MAIL FROM:<s@example.org>' 'RCPT TO:<bob@example.net>' DATA '@BODY:40000' QUIT
assert_eq "552 5.3.4 Message size exceeds fixed limit" "$(sed -n 5p <<<"$T_OUT")" "no SIZE=, body past the limit: 552"
# headers are not answered one by one (milter protocol 6, SMFIP_NR_HDR): a limit passed
# within them is refused at the first body chunk, or at the end of a message with no body
run raw_smtp 192.0.2.10 'EHLO client.test' 'MAIL FROM:<s@example.org>' 'RCPT TO:<bob@example.net>' DATA '@HEADERS:40000:body' QUIT
assert_eq "552 5.3.4 Message size exceeds fixed limit" "$(sed -n 5p <<<"$T_OUT")" "40 KB of headers, a short body: 552"
run raw_smtp 192.0.2.10 'EHLO client.test' 'MAIL FROM:<s@example.org>' 'RCPT TO:<bob@example.net>' DATA '@HEADERS:40000' QUIT
assert_eq "552 5.3.4 Message size exceeds fixed limit" "$(sed -n 5p <<<"$T_OUT")" "40 KB of headers, no body: 552 at the end of the message"
before=$(sink_count dest)
run raw_smtp 192.0.2.10 'EHLO client.test' 'MAIL FROM:<s@example.org>' 'RCPT TO:<bob@example.net>' 'RCPT TO:<anyone@example.org>' DATA '@BODY:40000' QUIT
assert_match "$(sed -n 6p <<<"$T_OUT")" '^250 ' "two domains, the body past one's limit: accepted"
sink_wait dest $((before + 1)) 20
m=$(sink_messages dest | tail -n 1)
assert_eq "<anyone@example.org>" "$(sink_header "$m" X-Sink-Rcpt-To)" "...and delivered to the other domain's recipient only"
assert_contains "$(cat "$TMP/mhmilter.log")" "removed recipient <bob@example.net>" "...the removal logged"

# --- Redis down ------------------------------------------------------------------------------
redis_stop
send sender@example.org alice@example.com
assert_eq "451 4.3.0 Temporary lookup failure" "$(rcpt_reply alice@example.com)" "Redis down: 451 4.3.0 (on_backend_error = defer)"
check "mhmilter still running" pid_alive "$MILTER_PID"
redis_restart
# each thread's connection retries after a backoff (100 ms doubling to 5 s)
accepted_again() {
	send sender@example.org alice@example.com
	[ "$(rcpt_reply alice@example.com | cut -c1-3)" = 250 ]
}
wait_until 15 accepted_again
assert_match "$(rcpt_reply alice@example.com)" '^250 ' "Redis back: accepted again (within the reconnect backoff)"

done_testing
