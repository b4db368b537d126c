#!/bin/bash
# test_policyd_relay.sh - mhpolicyd end to end, through a real Postfix, a
# real Redis and a real DNS server, in a network namespace of its own:
#   - mail to a relay domain arrives at the customer's server on its port;
#   - a changed --port applies to mail already in the deferred queue;
#   - a backup domain whose most preferred MX is this node: the SPEC 550;
#   - a backup domain, and a relay domain with a more preferred MX: accepted
#     and forwarded by MX, unprocessed (no DNSBL);
#   - DNSBL hit with its TXT (IPv4 and IPv6 clients), error codes ignored,
#     whitelisted sender and client skip the DNSBL;
#   - unknown domains: Postfix's own Relay access denied;
#   - Redis stopped: 451 4.3.0; restarted: accepting again (within the 5 s backoff cap),
#     and every accepted message delivered exactly once.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/dns.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"
need_cmd jq

POLICYD=${MHPOLICYD:?MHPOLICYD: path of the built mhpolicyd}
MHLIST=${MHLIST:?}
NODE=relay1.mhkit.test

# --- the world: client addresses, DNS, destination servers ---------------------
isolate_addr_add 192.0.2.25 192.0.2.26 192.0.2.27 192.0.2.28 2001:db8::25
V6NAME=$(/usr/bin/python3 -c 'import ipaddress; print(ipaddress.ip_address("2001:db8::25").reverse_pointer.replace("ip6.arpa", "bl.test"))')
cat >"$TMP/zone" <<ZONE
mhkit.test ZONE
$NODE A 127.0.0.1
relay.test ZONE
relay.test MX 10 $NODE.
late.test ZONE
late.test MX 10 $NODE.
pinned.test ZONE
pinned.test MX 10 $NODE.
second.test ZONE
second.test MX 10 mx.second.test.
second.test MX 20 $NODE.
mx.second.test A 127.0.0.6
backup.test ZONE
backup.test MX 10 mx.backup.test.
backup.test MX 20 $NODE.
mx.backup.test A 127.0.0.4
backuptop.test ZONE
backuptop.test MX 10 $NODE.
backuptop.test MX 20 mx.backuptop.test.
mx.backuptop.test A 127.0.0.7
customer.test ZONE
sink.customer.test A 127.0.0.5
bl.test ZONE
25.2.0.192.bl.test A 127.0.0.2
25.2.0.192.bl.test TXT "Listed: see http://bl.test/192.0.2.25"
26.2.0.192.bl.test A 127.0.0.2
27.2.0.192.bl.test A 127.255.255.254
$V6NAME A 127.0.0.3
$V6NAME TXT "v6 listed"
ZONE
dns_start "$TMP/zone"

sink_start dest 2525 --host 127.0.0.5		# the relay customer's server, port 2525
sink_start backupmx 25 --host 127.0.0.4		# backup.test's primary
sink_start secondmx 25 --host 127.0.0.6		# second.test's more preferred MX

redis_start --appendonly yes --appendfsync always
PPORT=$(free_port)
SPORT=$(free_port)
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF" "policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; };
node = { hostnames = [\"$NODE\"]; };
dns = { servers = [\"127.0.0.1@53\"]; timeout = \"2s\"; };"
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null || fail "mhlist $*"; }
mh domain add relay.test --service relay --dest sink.customer.test --port 2525 --dnsbls bl.test --callahead off
mh domain add late.test --service relay --dest sink.customer.test --port "$(free_port)" --callahead off
mh domain add second.test --service relay --dest sink.customer.test --port 2525 --dnsbls bl.test --callahead off
mh domain add backup.test --service backup --callahead off
mh domain add backuptop.test --service backup --callahead off
mh whitelist add relay.test friend@partner.test 192.0.2.26

start_bg mhpolicyd "$POLICYD" -c "$CONF" -f ${POLICYD_VERBOSE:-}
POLICYD_PID=$BG_PID
wait_until 10 grep -q "redis .*connect\|ready" "$TMP/mhpolicyd.log" || hard_error "mhpolicyd did not start: $(cat "$TMP/mhpolicyd.log")"

IPV6=
have_ipv6 && IPV6=--ipv6
postfix_start relay1 $IPV6 \
	"myhostname = $NODE" \
	"relay_domains = socketmap:inet:127.0.0.1:$SPORT:relay_domains" \
	"transport_maps = socketmap:inet:127.0.0.1:$SPORT:transport_maps" \
	"smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:$PPORT" \
	"smtpd_policy_service_default_action = 451 4.3.5 Policy service unavailable; try again later" \
	'mynetworks = 127.0.0.0/8' \
	'smtp_host_lookup = dns'
MX=$(postfix_port relay1)

# send FROM TO [swaks args]: from a given client address with --local-interface
send() { send_mail "$MX" "$@"; }

# --- routing: relay domain where we are the primary MX ----------------------------
send alice@sender.test bob@relay.test --header 'Message-ID: <relay-1@test>' --header 'Subject: to the customer'
assert_match "$(smtp_data_reply)" '^250 2\.0\.0 Ok: queued as' "relay.test: accepted"
sink_wait dest 1 20
m=$(sink_find dest Message-ID '<relay-1@test>')
assert_eq 1 "$(printf '%s\n' "$m" | grep -c .)" "relay.test: delivered once to the customer's server"
[ -n "$m" ] && assert_eq "2525" "$(sink_header "$m" X-Sink-Port)" "relay.test: on the customer's port 2525"
[ -n "$m" ] && assert_eq "to the customer" "$(sink_header "$m" Subject)" "relay.test: headers intact"

# --- a changed --port applies to mail already queued -------------------------------
send alice@sender.test carol@late.test --header 'Message-ID: <late-1@test>'
assert_match "$(smtp_data_reply)" '^250 ' "late.test: accepted while its server is down"
qid=$(smtp_queue_id)
postfix_wait_log relay1 "$qid: to=<carol@late.test>.*status=deferred" 30
assert_eq 1 "$(postfix_queue_count relay1)" "late.test: the message waits in the queue"
NEWPORT=$(free_port)
"$MHLIST" -c "$CONF" domain set late.test --port "$NEWPORT" >/dev/null
sink_start late "$NEWPORT" --host 127.0.0.5
t0=$(now_ms)
postfix_flush relay1
# Postfix's queue manager keeps its last address resolution for a while
# (about 30 s seen): the new route applies from the first attempt after that
for _ in $(seq 12); do
	sink_wait late 1 5 && break
	postfix_flush relay1
done
echo "# late.test: delivered on the new port $(( $(now_ms) - t0 )) ms after the change"
m=$(sink_find late Message-ID '<late-1@test>')
assert_eq 1 "$(printf '%s\n' "$m" | grep -c .)" "late.test: delivered on the new port after the change"
assert_eq 0 "$(postfix_queue_count relay1)" "late.test: the queue is empty"

# --- a pinned domain: the route is fixed at receipt, in the queue file ---------------
PINPORT=$(free_port)
"$MHLIST" -c "$CONF" domain add pinned.test --service relay --dest sink.customer.test --port "$PINPORT" --pin --callahead off >/dev/null
send alice@sender.test gail@pinned.test --header 'Message-ID: <pin-1@test>'
assert_match "$(smtp_data_reply)" '^250 ' "pinned.test: accepted"
pqid=$(smtp_queue_id)
postfix_wait_log relay1 "$pqid: to=<gail@pinned.test>.*status=deferred" 30
run postcat -c "$(postfix_confdir relay1)" -q "$pqid"
assert_contains "$T_OUT" "content_filter: smtp:[sink.customer.test]:$PINPORT" "pinned.test: the route is stored with the message"

# --- MX standing -----------------------------------------------------------------
send alice@sender.test dan@backuptop.test
assert_eq "550 5.7.1 <dan@backuptop.test>: Recipient address rejected: $NODE is the highest-priority MX for backuptop.test; a backup MX cannot accept its mail" \
	"$(smtp_rcpt_reply dan@backuptop.test)" "backup domain, this node the top MX: 550"

send alice@sender.test erin@backup.test --header 'Message-ID: <backup-1@test>'
assert_match "$(smtp_data_reply)" '^250 ' "backup domain, a more preferred MX: accepted"
sink_wait backupmx 1 30
assert_eq 1 "$(sink_find backupmx Message-ID '<backup-1@test>' | grep -c .)" "backup.test: forwarded to its primary MX"

send alice@sender.test fred@second.test --local-interface 192.0.2.25 --header 'Message-ID: <second-1@test>'
assert_match "$(smtp_data_reply)" '^250 ' "relay domain with a more preferred MX: accepted unprocessed (no DNSBL)"
sink_wait secondmx 1 30
assert_eq 1 "$(sink_find secondmx Message-ID '<second-1@test>' | grep -c .)" "second.test: forwarded to the more preferred MX"

# --- DNSBL ---------------------------------------------------------------------------
send alice@sender.test bob@relay.test --local-interface 192.0.2.25
assert_eq "554 5.7.1 <bob@relay.test>: Recipient address rejected: Service unavailable; Client host [192.0.2.25] blocked using bl.test; Listed: see http://bl.test/192.0.2.25" \
	"$(smtp_rcpt_reply bob@relay.test)" "DNSBL hit: Postfix's wording with the TXT"
send friend@partner.test bob@relay.test --local-interface 192.0.2.25
assert_eq "250" "$(smtp_rcpt_reply bob@relay.test | cut -c1-3)" "whitelisted sender: no DNSBL check"
send alice@sender.test bob@relay.test --local-interface 192.0.2.26
assert_eq "250" "$(smtp_rcpt_reply bob@relay.test | cut -c1-3)" "whitelisted client (listed in the DNSBL): no DNSBL check"
send alice@sender.test bob@relay.test --local-interface 192.0.2.27
assert_eq "250" "$(smtp_rcpt_reply bob@relay.test | cut -c1-3)" "DNSBL error code 127.255.255.254: ignored"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "answered with an error code" "DNSBL error code logged"
send alice@sender.test bob@relay.test --local-interface 192.0.2.28
assert_eq "250" "$(smtp_rcpt_reply bob@relay.test | cut -c1-3)" "unlisted client: accepted"
if [ -n "$IPV6" ]; then
	send_mail "[::1]:$MX" alice@sender.test bob@relay.test --local-interface 2001:db8::25
	assert_eq "554 5.7.1 <bob@relay.test>: Recipient address rejected: Service unavailable; Client host [2001:db8::25] blocked using bl.test; v6 listed" \
		"$(smtp_rcpt_reply bob@relay.test)" "DNSBL hit for an IPv6 client (nibble form)"
fi
# the answers are cached in Redis: a second lookup asks no DNS
before=$(dns_queries 25.2.0.192.bl.test A)
send alice@sender.test bob@relay.test --local-interface 192.0.2.25
assert_eq "$before" "$(dns_queries 25.2.0.192.bl.test A)" "DNSBL answer served from the Redis cache"
assert_match "$(redis_cli redis GET 'mh:{relay.test}:mx')" "^10 $NODE\$" "MX set cached under the domain's tag"

# --- mhlist explain: the same decision, step by step -----------------------------------
run "$MHLIST" -c "$CONF" explain alice@sender.test bob@relay.test --client 192.0.2.25 --size 30M
assert_eq 0 "$T_RC" "explain: exit 0"
assert_contains "$T_OUT" "mx: this node ($NODE) is the most preferred MX of relay.test" "explain: MX standing"
assert_contains "$T_OUT" "(MX set from the cache)" "explain: says where the MX set came from"
assert_contains "$T_OUT" "dnsbl: bl.test lists 192.0.2.25" "explain: DNSBL step"
assert_contains "$T_OUT" "the client sees: 554 5.7.1 <bob@relay.test>: Recipient address rejected: Service unavailable; Client host [192.0.2.25] blocked using bl.test; Listed: see http://bl.test/192.0.2.25" \
	"explain: the exact reply the client got above"
assert_contains "$T_OUT" "then mhmilter: 552 5.3.4 Message size exceeds fixed limit" "explain: --size over max_size"
run "$MHLIST" -c "$CONF" --json explain friend@partner.test bob@relay.test --client 192.0.2.25
assert_eq "DUNNO" "$(jq -r .action <<<"$T_OUT")" "explain --json: whitelisted sender: DUNNO"
assert_match "$(jq -r '.steps[]' <<<"$T_OUT")" "whitelisted by the domain whitelist" "explain --json: the whitelist step"
run "$MHLIST" -c "$CONF" explain alice@sender.test dan@backuptop.test
assert_contains "$T_OUT" "the client sees: 550 5.7.1 <dan@backuptop.test>: Recipient address rejected: $NODE is the highest-priority MX for backuptop.test" "explain: backup top-MX case"
# a domain with nothing cached: explain asks DNS itself
redis_cli redis DEL 'mh:{second.test}:mx' >/dev/null
run "$MHLIST" -c "$CONF" explain alice@sender.test fred@second.test
assert_contains "$T_OUT" "(MX set from the DNS)" "explain: MX from DNS on a cache miss"
assert_contains "$T_OUT" "forwarded to it unprocessed" "explain: more preferred MX"

# --- mhlist check ----------------------------------------------------------------------
run "$MHLIST" -c "$CONF" check relay.test
assert_eq 0 "$T_RC" "check relay.test: no problem (exit 0)"
assert_contains "$T_OUT" "this node: $NODE; standing: primary" "check: this node's standing"
assert_match "$T_OUT" '^dest    sink.customer.test:2525: reachable: 220 ' "check: the destination's banner"
run "$MHLIST" -c "$CONF" check pinned.test
assert_eq 1 "$T_RC" "check pinned.test: exit 1 (destination down)"
assert_contains "$T_OUT" "problem: dest: sink.customer.test:$PINPORT: connect: Connection refused" "check: unreachable destination named"
run "$MHLIST" -c "$CONF" --json check backuptop.test
assert_eq 1 "$T_RC" "check backuptop.test: exit 1"
assert_match "$(jq -r '.problems[]' <<<"$T_OUT")" "a backup domain, but this node \\($NODE\\) is its most preferred MX" "check: backup domain where we are top MX"
assert_eq "mx.backuptop.test" "$(jq -r .dest <<<"$T_OUT")" "check: a backup domain forwards to its best other MX"

# --- not ours ------------------------------------------------------------------------
send alice@sender.test x@other.test --local-interface 192.0.2.28
assert_eq "554 5.7.1 <x@other.test>: Relay access denied" "$(smtp_rcpt_reply x@other.test)" "unknown domain: Postfix's own refusal"

# --- Redis down, and back ------------------------------------------------------------
sink_clear dest
redis_stop
send alice@sender.test bob@relay.test --header 'Message-ID: <down-1@test>'
assert_eq "451 4.3.0 <bob@relay.test>: Recipient address rejected: Temporary lookup failure" "$(smtp_rcpt_reply bob@relay.test)" "Redis down: 451 4.3.0"
check "mhpolicyd still runs with Redis down" pid_alive "$POLICYD_PID"
redis_restart
t0=$(now_ms)
back_at=
for _ in $(seq 300); do
	if [ "$(socketmap_query "$SPORT" relay_domains relay.test)" = "OK relay.test" ]; then
		back_at=$(( $(now_ms) - t0 )); break
	fi
	sleep 0.02
done
check "Redis back: mhpolicyd answers from it again (${back_at:-never} ms after the restart)" test -n "$back_at"
[ -n "$back_at" ] && check "Redis back: within the reconnect backoff's cap (5 s; a liveness bound)" test "$back_at" -lt 5000
send alice@sender.test bob@relay.test --header 'Message-ID: <up-1@test>'
assert_match "$(smtp_data_reply)" '^250 ' "Redis back: mail accepted through Postfix"
sink_wait dest 1 20
assert_eq 1 "$(sink_count dest)" "Redis back: the accepted message delivered once, the refused one never"

# --- shutdown ------------------------------------------------------------------------
stop_pid "$POLICYD_PID" TERM
assert_contains "$(cat "$TMP/mhpolicyd.log")" "stopped:" "SIGTERM: mhpolicyd stopped cleanly"
done_testing
