#!/bin/bash
# test_dns_harness.sh - the test DNS world: tests/lib/dnsd.py, dns.sh and
# isolate.sh, checked with real tools (dig, getent).
#
# Two halves:
#  - plain: no namespace, dnsd on a free high port, asked with dig -p
#    (what a test does that points c-ares at 127.0.0.1@PORT); run first,
#    as a child process in the host's namespace (`--plain` runs only it);
#  - isolated: the script re-executes itself in its own network and mount
#    namespaces (isolate.sh); dnsd on 127.0.0.1:53 (and [::1]:53) is then
#    the system resolver's server, so getent sees the zone too, and a
#    second dnsd on a high port serves the same zone.
# Not root or no namespaces: the isolated half is skipped, the plain half
# still runs.

here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/isolate.sh"

MODE=isolated
if [ "${1:-}" = --plain ]; then
	MODE=plain
elif ! isolated; then
	if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1 || ! unshare --net --mount true 2>/dev/null; then
		echo "# isolated half skipped: needs root and unshare --net --mount; plain half only"
		exec "$BASH" "$0" --plain
	fi
	# the plain half, in the host's namespace, before re-executing; its
	# TAP lines become comments, its status one check of the isolated half
	"$BASH" "$0" --plain 2>&1 | sed 's/^/# plain: /'
	HARNESS_PLAIN_RC=${PIPESTATUS[0]}
	export HARNESS_PLAIN_RC
	isolate_self "$@"
fi

. "$TESTS_LIB/common.sh"
need_cmd dig
. "$TESTS_LIB/dns.sh"

ZONE=$TMP/zone
V6_CLIENT=2001:db8::25
V4_CLIENT=192.0.2.25

# nibble_name IPV6 ZONE - the DNSBL name of IPV6 in ZONE (reversed nibbles)
nibble_name() {
	"$DNS_PYTHON" -c 'import ipaddress, sys
print(ipaddress.ip_address(sys.argv[1]).reverse_pointer.replace(".ip6.arpa", "." + sys.argv[2]))' "$1" "$2"
}
NIBBLE=$(nibble_name "$V6_CLIENT" dnsbl.test)

# big_txt - ten 200-byte strings: too big for a 512-byte UDP answer
big_txt() {
	local i s
	s=$(printf 'x%.0s' $(seq 1 200))
	for i in 0 1 2 3 4 5 6 7 8 9; do printf '"%s%s" ' "$i" "${s:1}"; done
}

# write_zone PRIMARY_PREF - the test zone; this node (node.example.com) has MX preference PRIMARY_PREF in relay.example.org
write_zone() {
	cat >"$ZONE" <<EOF
# the test zone of test_dns_harness.sh
example.com ZONE
example.org ZONE
dnsbl.test ZONE

example.com        300 MX 10 mx1.example.com.
example.com        300 MX 20 mx2.example.com.
example.com        300 TXT "v=spf1 ip4:192.0.2.0/24 " "ip6:2001:db8::/32 -all"
mx1.example.com    300 A 192.0.2.1
mx2.example.com    300 A 192.0.2.2
v6.example.com     300 AAAA 2001:db8::1
node.example.com   300 A 127.0.0.1
www.example.com    CNAME mx1.example.com.
nomx.example.com   A 192.0.2.5
big.example.com    TXT $(big_txt)

# relay.example.org: this node is primary, then (after reload) secondary
relay.example.org  60 MX $1 node.example.com.
relay.example.org  60 MX 20 other.example.org.
other.example.org  A 192.0.2.30

2.0.0.127.dnsbl.test   A 127.0.0.2
2.0.0.127.dnsbl.test   TXT "Listed, see http://dnsbl.test/q?127.0.0.2"
1.0.0.127.dnsbl.test   A 127.255.255.254
$NIBBLE A 127.0.0.2
$NIBBLE TXT "IPv6 listed"

servfail.example.com SERVFAIL
timeout.example.com  TIMEOUT
refused.example.com  REFUSED
slow.example.com     DELAY 1500
slow.example.com     A 192.0.2.99
halfbroken.example.com A 192.0.2.40
halfbroken.example.com SERVFAIL MX
EOF
}

# q SERVER PORT ARGS... - dig +short, no recursion asked, 1 s and 2 tries
q() {
	local s=$1 p=$2
	shift 2
	dig +short +norec +time=1 +tries=2 @"$s" -p "$p" "$@" 2>&1
}

# status SERVER PORT NAME TYPE - the answer's RCODE as dig prints it
status() {
	dig +norec +time=1 +tries=2 @"$1" -p "$2" "$3" "$4" 2>&1 | sed -n 's/.*status: \([A-Z]*\).*/\1/p'
}

# dig_checks SERVER PORT LABEL - the zone as dig sees it
dig_checks() {
	local s=$1 p=$2 l=$3 out
	assert_eq "$(printf '10 mx1.example.com.\n20 mx2.example.com.')" "$(q "$s" "$p" example.com MX)" "$l: MX set in order"
	assert_eq "$(printf '10 mx1.example.com.\n20 mx2.example.com.')" "$(q "$s" "$p" ExAmPlE.CoM. MX)" "$l: names are case-insensitive"
	assert_eq "$(printf '10 node.example.com.\n20 other.example.org.')" "$(q "$s" "$p" relay.example.org MX)" "$l: this node primary MX"
	assert_eq "127.0.0.2" "$(q "$s" "$p" 2.0.0.127.dnsbl.test A)" "$l: DNSBL A listed"
	assert_eq '"Listed, see http://dnsbl.test/q?127.0.0.2"' "$(q "$s" "$p" 2.0.0.127.dnsbl.test TXT)" "$l: DNSBL TXT"
	assert_eq "127.255.255.254" "$(q "$s" "$p" 1.0.0.127.dnsbl.test A)" "$l: DNSBL error code"
	assert_eq "127.0.0.2" "$(q "$s" "$p" "$NIBBLE" A)" "$l: DNSBL IPv6 nibble name"
	assert_eq '"IPv6 listed"' "$(q "$s" "$p" "$NIBBLE" TXT)" "$l: DNSBL IPv6 nibble TXT"
	assert_eq "NXDOMAIN" "$(status "$s" "$p" 3.0.0.127.dnsbl.test A)" "$l: DNSBL not listed: NXDOMAIN"
	assert_eq '"v=spf1 ip4:192.0.2.0/24 " "ip6:2001:db8::/32 -all"' "$(q "$s" "$p" example.com TXT)" "$l: SPF TXT in two strings"
	assert_eq "2001:db8::1" "$(q "$s" "$p" v6.example.com AAAA)" "$l: AAAA"
	assert_eq "$(printf 'mx1.example.com.\n192.0.2.1')" "$(q "$s" "$p" www.example.com A)" "$l: CNAME followed"
	assert_eq "SERVFAIL" "$(status "$s" "$p" servfail.example.com MX)" "$l: SERVFAIL"
	assert_eq "REFUSED" "$(status "$s" "$p" refused.example.com A)" "$l: REFUSED"
	assert_eq "SERVFAIL" "$(status "$s" "$p" halfbroken.example.com MX)" "$l: SERVFAIL for one type"
	assert_eq "192.0.2.40" "$(q "$s" "$p" halfbroken.example.com A)" "$l: ... other types answered"
	assert_eq "NXDOMAIN" "$(status "$s" "$p" nosuch.example.com MX)" "$l: NXDOMAIN"
	out=$(dig +norec +noall +authority @"$s" -p "$p" nosuch.example.com MX 2>&1)
	assert_match "$out" "^example\.com\.[[:space:]].*SOA" "$l: NXDOMAIN has the zone's SOA in authority"
	assert_eq "NXDOMAIN" "$(status "$s" "$p" unknown.invalid A)" "$l: name outside every zone: NXDOMAIN"
	assert_eq "NOERROR" "$(status "$s" "$p" nomx.example.com MX)" "$l: NODATA is NOERROR"
	assert_eq "" "$(q "$s" "$p" nomx.example.com MX)" "$l: NODATA has no answer"
	out=$(dig +norec +noall +authority @"$s" -p "$p" nomx.example.com MX 2>&1)
	assert_match "$out" "SOA" "$l: NODATA has the SOA in authority"
	assert_eq "NOERROR" "$(status "$s" "$p" 0.0.127.dnsbl.test A)" "$l: empty non-terminal is NODATA, not NXDOMAIN"
	assert_exit 9 dig +norec +time=1 +tries=1 @"$s" -p "$p" timeout.example.com A
	assert_eq "DROPPED" "$(awk '$2 == "query" && $7 == "name=timeout.example.com" { r = $9 } END { sub("rcode=", "", r); print r }' "$DNS_LOG")" \
		"$l: TIMEOUT query logged as dropped"
	assert_eq "$(printf '10 mx1.example.com.\n20 mx2.example.com.')" "$(q "$s" "$p" +tcp example.com MX)" "$l: TCP"
	out=$(dig +norec +noedns +ignore @"$s" -p "$p" big.example.com TXT 2>&1)
	assert_match "$out" "flags:.* tc" "$l: big answer over UDP is truncated"
	out=$(q "$s" "$p" +noedns big.example.com TXT)
	assert_match "$out" '"9x{199}"' "$l: ... and dig gets it whole over TCP"
}

# count_checks SERVER PORT LABEL - the query log counts what was asked
count_checks() {
	local s=$1 p=$2 l=$3 before all
	before=$(dns_queries example.com MX)
	all=$(dns_queries example.com)
	q "$s" "$p" example.com MX >/dev/null
	q "$s" "$p" EXAMPLE.com. MX >/dev/null
	q "$s" "$p" example.com A >/dev/null
	assert_eq "$((before + 2))" "$(dns_queries example.com MX)" "$l: query log counts MX queries (any case)"
	assert_eq "$((all + 3))" "$(dns_queries EXAMPLE.COM.)" "$l: query log counts all types"
	assert_eq "0" "$(dns_queries never.asked.example.com)" "$l: never asked: 0"
}

# reload_checks SERVER PORT LABEL - SIGHUP makes a changed MX set visible; a bad file keeps the old data
reload_checks() {
	local s=$1 p=$2 l=$3 n
	write_zone 30
	dns_reload
	assert_eq "$(printf '30 node.example.com.\n20 other.example.org.')" "$(q "$s" "$p" relay.example.org MX)" \
		"$l: after reload this node is secondary MX"
	cp "$ZONE" "$TMP/zone.good"
	echo "bad.example.com 300 MX mx1.example.com." >>"$ZONE"
	assert_exit 1 dnsd --check "$ZONE"
	assert_contains "$T_ERR" "$ZONE:" "$l: zone check names the file and line"
	n=$(dns_load_count)
	kill -HUP "$DNS_PID"
	check "$l: bad zone file: reload logged" wait_until 5 dns_load_count_above "$n"
	assert_match "$(tail -n 1 "$DNS_LOG"; grep ' load gen=' "$DNS_LOG" | tail -n 1)" "load gen=[0-9]+ error: .*MX wants" "$l: bad zone file: error logged"
	assert_eq "$(printf '30 node.example.com.\n20 other.example.org.')" "$(q "$s" "$p" relay.example.org MX)" \
		"$l: bad zone file: old data still served"
	write_zone 10
	dns_reload
	assert_eq "$(printf '10 node.example.com.\n20 other.example.org.')" "$(q "$s" "$p" relay.example.org MX)" \
		"$l: reload back: primary again"
}

# robustness_checks SERVER PORT LABEL - malformed packets do not kill it
robustness_checks() {
	local s=$1 p=$2 l=$3
	printf 'x' >"/dev/udp/$s/$p"
	printf 'this is not a DNS message at all' >"/dev/udp/$s/$p"
	printf '\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3fabc' >"/dev/udp/$s/$p"
	(printf '\x00\x20garbage-garbage-garbage-garbage!' >"/dev/tcp/$s/$p") 2>/dev/null
	(printf '\x00\x05short' >"/dev/tcp/$s/$p") 2>/dev/null
	assert_eq "127.0.0.2" "$(q "$s" "$p" 2.0.0.127.dnsbl.test A)" "$l: still answers after malformed packets"
	check "$l: malformed packets logged" grep -q ' bad proto=' "$DNS_LOG"
	check "$l: still running" pid_alive "$DNS_PID"
}

# delay_checks SERVER PORT LABEL - a delayed answer does not hold up others
delay_checks() {
	local s=$1 p=$2 l=$3 t0 t1 out pid
	t0=$(now_ms)
	q "$s" "$p" +tries=1 +time=4 slow.example.com A >"$TMP/slow.out" &
	pid=$!
	sleep 0.2
	out=$(q "$s" "$p" mx1.example.com A)
	t1=$(now_ms)
	assert_eq "192.0.2.1" "$out" "$l: answered while a delayed answer is pending"
	check "$l: ... at once ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 1300
	wait "$pid"
	t1=$(now_ms)
	assert_eq "192.0.2.99" "$(cat "$TMP/slow.out")" "$l: delayed answer arrives"
	check "$l: ... late ($((t1 - t0)) ms)" test $((t1 - t0)) -ge 1400
}

# no_dnsd_left - no process runs from this test's temp dir
no_dnsd_left() {
	local left
	left=$(pgrep -af -- "$TMP/dns-" 2>/dev/null | grep -v pgrep)
	assert_eq "" "$left" "no dnsd left under $TMP"
}

write_zone 10

# --- plain: a free high port, no namespace ------------------------------------------

if [ "$MODE" = plain ]; then
	assert_eq "" "${MHKIT_ISOLATED:-}" "plain: not isolated"
	dns_start "$ZONE"
	check "plain: on a high port ($DNS_PORT)" test "$DNS_PORT" -ge 20000
	check "plain: pid file" test "$(cat "$TMP/dns-$DNS_PORT/dnsd.pid")" = "$DNS_PID"
	dig_checks 127.0.0.1 "$DNS_PORT" plain
	count_checks 127.0.0.1 "$DNS_PORT" plain
	reload_checks 127.0.0.1 "$DNS_PORT" plain
	robustness_checks 127.0.0.1 "$DNS_PORT" plain
	pidfile=$TMP/dns-$DNS_PORT/dnsd.pid
	dns_stop
	check "plain: stopped, pid file removed" test ! -e "$pidfile"
	check "plain: clean exit logged" grep -q ' stop$' "$DNS_LOG"
	no_dnsd_left
	done_testing
fi

# --- isolated: port 53 is the system resolver's server ---------------------------------

case ${HARNESS_PLAIN_RC:-} in
0) pass "plain half (no namespace, high port) passed" ;;
77) pass "plain half skipped" ;;
*) fail "plain half (no namespace, high port) passed" "its exit status: ${HARNESS_PLAIN_RC:-none}" ;;
esac
assert_eq 1 "${MHKIT_ISOLATED:-}" "MHKIT_ISOLATED=1"
assert_eq "$$" "$MHKIT_ISOLATED_PID" "re-executed in place: same PID"
assert_eq "lo" "$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ' | sed 's/ $//')" "only loopback in the namespace"
assert_eq "$(printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:2')" "$(cat /etc/resolv.conf)" "generated resolv.conf"
assert_match "$(cat /etc/nsswitch.conf)" "^hosts: files dns$" "nsswitch: hosts from files and dns only"
case $TMP in "${TMPDIR:-/tmp}"/mhkit-test_dns_harness.*) pass "one temp dir, made inside" ;; *) fail "one temp dir" "$TMP" ;; esac

dns_start "$ZONE"
MAIN_PORT=$DNS_PORT
assert_eq 53 "$DNS_PORT" "dnsd on port 53 inside"
assert_eq 127.0.0.1 "$DNS_ADDR" "dnsd on 127.0.0.1"

# the system resolver, as Postfix and libspf2 use it
assert_exit 0 getent hosts mx1.example.com
assert_match "$T_OUT" "^192\.0\.2\.1[[:space:]]+mx1\.example\.com" "getent hosts: the A record through resolv.conf"
assert_exit 0 getent hosts v6.example.com
assert_match "$T_OUT" "^2001:db8::1[[:space:]]" "getent hosts: the AAAA record"
assert_exit 2 getent hosts nosuch.example.com
check "getent: the query reached dnsd" test "$(dns_queries mx1.example.com A)" -ge 1
isolate_hosts_add 192.0.2.77 pinned.example.com
assert_exit 0 getent hosts pinned.example.com
assert_match "$T_OUT" "^192\.0\.2\.77[[:space:]]" "isolate_hosts_add: /etc/hosts line used"
check "isolate_hosts_add: files answered, dnsd was not asked for A" test "$(dns_queries pinned.example.com A)" = 0
t0=$(now_ms)
assert_exit 2 getent hosts timeout.example.com
check "getent gives up on a silent name within 10 s ($(($(now_ms) - t0)) ms)" test $(($(now_ms) - t0)) -lt 10000
check "... after asking dnsd" test "$(dns_queries timeout.example.com)" -ge 1

dig_checks 127.0.0.1 53 "port 53"
count_checks 127.0.0.1 53 "port 53"
robustness_checks 127.0.0.1 53 "port 53"
delay_checks 127.0.0.1 53 "port 53"

# dig without @server uses resolv.conf too
assert_eq "$(printf '10 mx1.example.com.\n20 mx2.example.com.')" "$(dig +short +time=1 example.com MX)" "dig through resolv.conf"

# IPv6 loopback and client addresses
if [ "${MHKIT_ISOLATED_IPV6:-0}" = 1 ]; then
	assert_eq "127.0.0.1,::1" "$DNS_ADDRS" "dnsd also on ::1"
	assert_eq "127.0.0.2" "$(q ::1 53 2.0.0.127.dnsbl.test A)" "dig @::1 port 53"
	assert_exit 2 getent ahostsv6 v6.example.com
	isolate_addr_add "$V6_CLIENT" "$V4_CLIENT"
	assert_exit 0 getent ahostsv6 v6.example.com
	assert_match "$T_OUT" "^2001:db8::1[[:space:]]" "AI_ADDRCONFIG asks AAAA once lo has a global IPv6 address"
	q ::1 53 -b "$V6_CLIENT" "$NIBBLE" A >/dev/null
	check "IPv6 client address $V6_CLIENT seen by dnsd" grep -q "client=$V6_CLIENT#" "$DNS_LOG"
	q 127.0.0.1 53 -b "$V4_CLIENT" mx1.example.com A >/dev/null
	check "IPv4 client address $V4_CLIENT seen by dnsd" grep -q "client=$V4_CLIENT#" "$DNS_LOG"
else
	echo "# no IPv6 on lo in this namespace: IPv6 checks left out"
fi

# a second instance on a high port, same zone
main_relay_mx=$(dns_queries relay.example.org MX)
dns_start "$ZONE" 127.0.0.1
HIGH_PORT=$DNS_PORT
check "second dnsd on a high port ($HIGH_PORT)" test "$HIGH_PORT" -ge 20000
dig_checks 127.0.0.1 "$HIGH_PORT" "high port"
count_checks 127.0.0.1 "$HIGH_PORT" "high port"
reload_checks 127.0.0.1 "$HIGH_PORT" "high port"
# the reload went to the high-port instance only: port 53 serves its first generation's data
dns_use "$MAIN_PORT"
assert_eq 1 "$(dns_generation 127.0.0.1 53)" "port 53 not reloaded"
assert_eq "$main_relay_mx" "$(dns_queries relay.example.org MX)" "port 53 log: none of the high port's queries"
reload_checks 127.0.0.1 53 "port 53"
assert_eq 3 "$(dns_generation 127.0.0.1 53)" "port 53: two good reloads, one bad"

dns_stop "$HIGH_PORT"
dns_stop "$MAIN_PORT"
check "stopped: port 53 does not answer" test -z "$(dig +short +time=1 +tries=1 @127.0.0.1 example.com MX 2>/dev/null | grep -v ';;')"
no_dnsd_left
done_testing
