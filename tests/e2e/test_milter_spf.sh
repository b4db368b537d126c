#!/bin/bash
# test_milter_spf.sh - mhmilter's SPF through a real Postfix, a real Redis
# and a real DNS server, in a network namespace of its own (clients on
# 192.0.2.10, 198.51.100.7 and 2001:db8:1::10 on loopback: libspf2 gives
# loopback clients a pass without asking DNS). The DNS server listens on
# a port of its own and nothing answers on 127.0.0.1:53, so every answer
# the milter gets came through dns.servers. Each SPF result (pass, fail,
# softfail, neutral, none, temperror, permerror; ip4, ip6, mx, include,
# the HELO identity for <>) is checked on the headers the destination
# receives (Received-SPF, Authentication-Results with our authserv-id),
# spf = reject on the exact RCPT reply, spf = off on the headers' absence;
# a forged Authentication-Results in our name is removed, another kept;
# a whitelisted sender passes spf = reject; a DNS server that never
# answers gives temperror within dns.timeout.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/dns.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"

MILTER=${MHMILTER:?MHMILTER: path of the built mhmilter}
MHLIST=${MHLIST:?}
AUTHSERV=mx1.relay.test

isolate_addr_add 192.0.2.10 198.51.100.7
IPV6=
if have_ipv6; then
	IPV6=--ipv6
	isolate_addr_add 2001:db8:1::10
fi

cat >"$TMP/zone" <<'EOF'
test ZONE
pass.test          TXT "v=spf1 ip4:192.0.2.10 -all"
fail.test          TXT "v=spf1 ip4:203.0.113.0/24 -all"
soft.test          TXT "v=spf1 ip4:203.0.113.0/24 ~all"
neutral.test       TXT "v=spf1 ?all"
none.test          A   203.0.113.1
perm.test          TXT "v=spf1 ip4:192.0.2.10 bogus:mechanism -all"
temp.test          SERVFAIL TXT
slow.test          TIMEOUT
mx.test            TXT "v=spf1 mx -all"
mx.test            MX  10 mail.mx.test.
mail.mx.test       A   192.0.2.10
split.test         TXT "v=spf1 include:pass.test " "-all"
v6.test            TXT "v=spf1 ip6:2001:db8:1::/48 -all"
client.test        TXT "v=spf1 ip4:192.0.2.10 -all"
other.test         TXT "v=spf1 -all"
EOF
DNSPORT=$(free_port)
dns_start "$TMP/zone" 127.0.0.1 "$DNSPORT"
# nothing on the system resolver's address: only dns.servers can answer
! dig +tries=1 +time=1 @127.0.0.1 -p 53 pass.test TXT >/dev/null 2>&1 ||
	hard_error "something answers on 127.0.0.1:53"

sink_start dest 2525 --host 127.0.0.5
redis_start
MPORT=$(free_port)
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF" "dns = { servers = [\"127.0.0.1@$DNSPORT\"]; timeout = \"1s\"; };
milter = { listen = \"inet:127.0.0.1:$MPORT\"; authserv_id = \"$AUTHSERV\"; };"
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null || fail "mhlist $*"; }
mh domain add example.com --service relay --dest mail.customer.example --port 2525 --spf reject --spam off --virus off
mh domain add example.net --service relay --dest mail.customer.example --port 2525 --spam off --virus off
mh domain add example.org --service relay --dest mail.customer.example --port 2525 --spf off --spam off --virus off
mh whitelist add example.com friend@other.test

start_bg mhmilter "$MILTER" -c "$CONF" -f ${SPF_V:-}
MILTER_PID=$BG_PID
wait_until 10 grep -q "ready" "$TMP/mhmilter.log" || hard_error "mhmilter did not start: $(cat "$TMP/mhmilter.log")"

postfix_start mx $IPV6 \
	'relay_domains = example.com example.net example.org' \
	'transport_maps = inline:{ example.com=smtp:[127.0.0.5]:2525, example.net=smtp:[127.0.0.5]:2525, example.org=smtp:[127.0.0.5]:2525 }' \
	"smtpd_milters = inet:127.0.0.1:$MPORT" 'milter_default_action = tempfail' 'milter_protocol = 6' \
	'mynetworks = 127.0.0.0/8'
MX=$(postfix_port mx)

N=0
# send FROM TO [swaks args] - from 192.0.2.10 unless --local-interface follows; sets MID
send() {
	local from=$1 to=$2
	shift 2
	N=$((N + 1))
	MID="<spf-$N@test>"
	case " $* " in
	*" --local-interface "*) send_mail "$MX" "$from" "$to" --header "Message-ID: $MID" "$@" ;;
	*) send_mail "$MX" "$from" "$to" --local-interface 192.0.2.10 --header "Message-ID: $MID" "$@" ;;
	esac
}
# arrived - the stored copy of the last message sent (waits up to 20 s); "" when none
arrived() {
	local f i
	for i in $(seq 1 40); do
		f=$(sink_find dest Message-ID "$MID" | head -1)
		[ -n "$f" ] && { echo "$f"; return; }
		sleep 0.5
	done
}
# expect_spf WHAT RESULT AUTHRES - the last message arrived with Received-SPF RESULT... and this A-R
expect_spf() {
	local what=$1 result=$2 authres=$3 f
	assert_match "$(smtp_data_reply)" '^250 ' "$what: accepted"
	f=$(arrived)
	[ -n "$f" ] || { fail "$what: the message did not arrive"; return; }
	assert_match "$(sink_header "$f" Received-SPF)" "^$result " "$what: Received-SPF: $result"
	assert_eq "$authres" "$(sink_header "$f" Authentication-Results)" "$what: Authentication-Results"
}

# --- results, on a domain with spf = tag (the default) ----------------------------
send alice@pass.test bob@example.net
expect_spf "ip4 match" pass "$AUTHSERV; spf=pass smtp.mailfrom=alice@pass.test"
assert_contains "$(sink_header "$(arrived)" Received-SPF)" "client-ip=192.0.2.10;" \
	"Received-SPF names the client"
assert_contains "$(sink_header "$(arrived)" Received-SPF)" "($AUTHSERV: domain of pass.test designates 192.0.2.10 as permitted sender)" \
	"Received-SPF: the comment in our name"
send alice@fail.test bob@example.net
expect_spf "-all" fail "$AUTHSERV; spf=fail smtp.mailfrom=alice@fail.test"
send alice@soft.test bob@example.net
expect_spf "~all" softfail "$AUTHSERV; spf=softfail smtp.mailfrom=alice@soft.test"
send alice@neutral.test bob@example.net
expect_spf "?all" neutral "$AUTHSERV; spf=neutral smtp.mailfrom=alice@neutral.test"
send alice@none.test bob@example.net
expect_spf "no SPF record" none "$AUTHSERV; spf=none smtp.mailfrom=alice@none.test"
send alice@temp.test bob@example.net
expect_spf "SERVFAIL" temperror "$AUTHSERV; spf=temperror smtp.mailfrom=alice@temp.test"
send alice@perm.test bob@example.net
expect_spf "an unknown mechanism" permerror "$AUTHSERV; spf=permerror smtp.mailfrom=alice@perm.test"
send alice@mx.test bob@example.net
expect_spf "mx mechanism (MX then A lookups)" pass "$AUTHSERV; spf=pass smtp.mailfrom=alice@mx.test"
send alice@split.test bob@example.net
expect_spf "include:, record in two strings" pass "$AUTHSERV; spf=pass smtp.mailfrom=alice@split.test"
send '<>' bob@example.net
expect_spf "null sender: the HELO identity" pass "$AUTHSERV; spf=pass smtp.helo=client.test"
send alice@pass.test bob@example.net --local-interface 198.51.100.7
expect_spf "another client address" fail "$AUTHSERV; spf=fail smtp.mailfrom=alice@pass.test"
if [ -n "$IPV6" ]; then
	N=$((N + 1)); MID="<spf-$N@test>"
	send_mail "[::1]:$MX" alice@v6.test bob@example.net --local-interface 2001:db8:1::10 --header "Message-ID: $MID"
	expect_spf "ip6 match" pass "$AUTHSERV; spf=pass smtp.mailfrom=alice@v6.test"
fi
check "the lookups reached the server in dns.servers" [ "$(dns_queries fail.test TXT)" -ge 1 ]

# --- spf = reject --------------------------------------------------------------------
send alice@fail.test bob@example.com
assert_eq "550 5.7.23 SPF validation failed" "$(smtp_rcpt_reply bob@example.com)" \
	"spf = reject, Fail: refused at RCPT"
assert_contains "$(cat "$TMP/mhmilter.log")" "reject: RCPT from" "...and logged"
send alice@soft.test bob@example.com
expect_spf "spf = reject, SoftFail: accepted" softfail "$AUTHSERV; spf=softfail smtp.mailfrom=alice@soft.test"
send alice@temp.test bob@example.com
expect_spf "spf = reject, TempError: accepted" temperror "$AUTHSERV; spf=temperror smtp.mailfrom=alice@temp.test"
send alice@pass.test bob@example.com
expect_spf "spf = reject, Pass" pass "$AUTHSERV; spf=pass smtp.mailfrom=alice@pass.test"
send alice@fail.test "bob@example.com,carol@example.net"
assert_eq "550 5.7.23 SPF validation failed" "$(smtp_rcpt_reply bob@example.com)" \
	"two domains: the spf = reject one refuses its recipient"
expect_spf "two domains: the spf = tag one gets the message" fail "$AUTHSERV; spf=fail smtp.mailfrom=alice@fail.test"
assert_match "$(smtp_rcpt_reply carol@example.net)" '^250 ' "two domains: the other recipient accepted"
send friend@other.test bob@example.com
expect_spf "spf = reject, whitelisted sender: accepted, tagged" fail "$AUTHSERV; spf=fail smtp.mailfrom=friend@other.test"

# --- spf = off -------------------------------------------------------------------------
send alice@fail.test bob@example.org
assert_match "$(smtp_data_reply)" '^250 ' "spf = off: accepted"
f=$(arrived)
assert_eq "" "$(sink_header "$f" Received-SPF)" "spf = off: no Received-SPF"
assert_eq "" "$(sink_header "$f" Authentication-Results)" "spf = off: no Authentication-Results"

# --- forged Authentication-Results ---------------------------------------------------------
send alice@fail.test bob@example.net \
	--add-header "Authentication-Results: $AUTHSERV; spf=pass smtp.mailfrom=alice@fail.test" \
	--add-header "Authentication-Results: elsewhere.example; spf=pass smtp.mailfrom=alice@fail.test" \
	--add-header "Authentication-Results:   ${AUTHSERV^^} (forged); dkim=pass"
assert_match "$(smtp_data_reply)" '^250 ' "forged Authentication-Results: accepted"
f=$(arrived)
assert_eq "$AUTHSERV; spf=fail smtp.mailfrom=alice@fail.test
elsewhere.example; spf=pass smtp.mailfrom=alice@fail.test" "$(sink_header "$f" Authentication-Results)" \
	"ours in our name, another server's kept, the forged ones gone"

# --- a DNS server that never answers: temperror within dns.timeout ---------------------
t0=$(now_ms)
send alice@slow.test bob@example.com
ms=$(( $(now_ms) - t0 ))
expect_spf "no answer from DNS" temperror "$AUTHSERV; spf=temperror smtp.mailfrom=alice@slow.test"
check "no answer from DNS: the transaction ended in ${ms} ms (dns.timeout 1s; liveness bound 15 s)" [ "$ms" -le 15000 ]

# --- still serving -----------------------------------------------------------------------------
assert_eq "$MILTER_PID" "$(pgrep -f "$MILTER -c $CONF" | head -1)" "mhmilter still running"
send alice@pass.test bob@example.net
expect_spf "a last message" pass "$AUTHSERV; spf=pass smtp.mailfrom=alice@pass.test"
done_testing
