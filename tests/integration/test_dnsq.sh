#!/bin/bash
# test_dnsq.sh - policyd/dnsq.c against a real DNS server (tests/lib/dnsd.py):
# MX order and TTL, MX through a CNAME, A + TXT of a DNSBL name, NXDOMAIN
# and NODATA with the zone's negative TTL, SERVFAIL and REFUSED as
# tempfail, a silent server as tempfail within dns.timeout, a bad name,
# 50 concurrent queries where one slow name does not hold up the others,
# and cancelling on dnsq_free.  Drives tests/integration/dnsq_probe.

here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/dns.sh"

PROBE=${DNSQ_PROBE:-$here/dnsq_probe}
[ -x "$PROBE" ] || hard_error "dnsq_probe not built: $PROBE"

TIMEOUT_MS=1000			# dns.timeout in the test config
FAST_MS=200			# a fast answer among slow ones comes within this
SLACK_MS=400			# scheduling slack over dns.timeout (valgrind, loaded CI)
CONF=$TMP/mhkit.conf
ZONE=$TMP/zone

cat >"$ZONE" <<'EOF'
example.com 42 ZONE
example.com      3600 MX 20 mx2.example.com.
example.com       600 MX 10 MX1.example.com.
example.com      1800 MX 30 mx3.example.com.
mx1.example.com       A  192.0.2.1
alias.example.com 120 CNAME example.com.
broken.example.com    SERVFAIL
closed.example.com    REFUSED
silent.example.com    TIMEOUT
slow.example.com      DELAY 300

bl.example 7 ZONE
2.0.0.127.bl.example  60 A   127.0.0.2
2.0.0.127.bl.example  30 A   127.0.0.4
2.0.0.127.bl.example  90 TXT "Listed, see " "https://bl.example/q?ip=127.0.0.2"
EOF
for i in $(seq 1 49); do
	echo "h$i.fast.example.com 300 A 192.0.2.$i"
done >>"$ZONE"
# too big for 512 bytes of UDP (TC, then TCP), and past dnsq's bounds
for i in $(seq 10 39); do
	echo "big.example.com 300 MX $i a-rather-long-exchange-name-$i.example.com."
done >>"$ZONE"
for i in $(seq 1 20); do
	echo "many.bl.example 300 A 127.0.0.$i"
done >>"$ZONE"
long=$(printf '%0200d' 0)
echo "long.bl.example 300 TXT \"$long\" \"$long\" \"$long\"" >>"$ZONE"

dns_start "$ZONE"
cat >"$CONF" <<EOF
# written by $T_NAME
dns = {
  servers = ["$DNS_ADDR@$DNS_PORT"];
  timeout = "${TIMEOUT_MS}ms";
};
EOF

# probe ARGS... - the probe with the test config; output in T_OUT
probe() {
	run "$PROBE" -c "$CONF" "$@"
}

# line NAME TYPE - the probe's answer line for NAME and TYPE, without ms=
line() {
	printf '%s\n' "$T_OUT" | awk -v n="$1" -v t="$2" '$1 == n && $2 == t { sub(/ ms=[0-9]+$/, ""); print; exit }'
}

# ms NAME TYPE - milliseconds until NAME TYPE was answered
ms() {
	printf '%s\n' "$T_OUT" | awk -v n="$1" -v t="$2" '$1 == n && $2 == t { sub(/.* ms=/, ""); print; exit }'
}

# --- answers ---------------------------------------------------------------------

probe mx example.com alias.example.com
assert_eq 0 "$T_RC" "mx: probe exit status"
assert_eq "example.com MX ok 600 10 mx1.example.com,20 mx2.example.com,30 mx3.example.com" \
	"$(line example.com MX)" "mx: order by preference, lowest TTL"
assert_eq "alias.example.com MX ok 120 10 mx1.example.com,20 mx2.example.com,30 mx3.example.com" \
	"$(line alias.example.com MX)" "mx: through a CNAME, CNAME TTL"
assert_eq 1 "$(dns_queries example.com MX)" "mx: one query, no search domain tried"

probe a 2.0.0.127.bl.example txt 2.0.0.127.bl.example
assert_eq 0 "$T_RC" "dnsbl: probe exit status"
assert_eq "2.0.0.127.bl.example A ok 30 127.0.0.2,127.0.0.4" \
	"$(line 2.0.0.127.bl.example A)" "dnsbl: A records, min TTL"
assert_eq "2.0.0.127.bl.example TXT ok 90 Listed, see https://bl.example/q?ip=127.0.0.2" \
	"$(line 2.0.0.127.bl.example TXT)" "dnsbl: TXT strings joined"

probe a 3.0.0.127.bl.example mx nosuch.example.com mx mx1.example.com txt example.com
assert_eq 0 "$T_RC" "negative: probe exit status"
assert_eq "3.0.0.127.bl.example A nxdomain 7 -" "$(line 3.0.0.127.bl.example A)" \
	"nxdomain: negative TTL from the zone's SOA"
assert_eq "nosuch.example.com MX nxdomain 42 -" "$(line nosuch.example.com MX)" \
	"nxdomain: MX"
assert_eq "mx1.example.com MX nodata 42 -" "$(line mx1.example.com MX)" \
	"nodata: name with an A but no MX"
assert_eq "example.com TXT nodata 42 -" "$(line example.com TXT)" "nodata: TXT"

probe a broken.example.com closed.example.com 'bad name.example' a..example
assert_eq 0 "$T_RC" "failures: probe exit status"
assert_eq "broken.example.com A tempfail 0 -" "$(line broken.example.com A)" "servfail: tempfail"
assert_eq "closed.example.com A tempfail 0 -" "$(line closed.example.com A)" "refused: tempfail"
assert_match "$T_OUT" '^bad name\.example A badname 0 - ms=' "bad name: badname, nothing sent"
assert_eq "a..example A badname 0 -" "$(line a..example A)" "empty label: badname"
assert_eq 0 "$(dns_queries a..example)" "bad name: no query sent"
t=$(ms broken.example.com A)
if [ -n "$t" ] && [ "$t" -lt "$TIMEOUT_MS" ]; then
	pass "servfail: answered at once (${t} ms)"
else
	fail "servfail: answered at once" "took ${t:-?} ms"
fi

# --- big answers: TCP fallback, bounds -----------------------------------------------

probe mx big.example.com a many.bl.example txt long.bl.example
assert_eq 0 "$T_RC" "big: probe exit status"
want=$(for i in $(seq 10 25); do printf '%s%s a-rather-long-exchange-name-%s.example.com' "${sep:-}" "$i" "$i"; sep=,; done)
assert_eq "big.example.com MX ok 300 $want" "$(line big.example.com MX)" \
	"big: MX over TCP, the $((25 - 10 + 1)) most preferred kept"
assert_match "$(grep 'name=big.example.com type=MX' "$DNS_LOG")" 'proto=tcp' "big: retried over TCP after TC"
assert_contains "$T_ERR" "MX big.example.com: 30 exchanges, kept the 16 most preferred" "big: MX bound logged"
assert_eq "many.bl.example A ok 300 $(seq -s, -f '127.0.0.%g' 1 16)" "$(line many.bl.example A)" \
	"big: first 16 A records kept"
assert_contains "$T_ERR" "A many.bl.example: 20 addresses, kept the first 16" "big: A bound logged"
assert_eq 512 "$(line long.bl.example TXT | awk '{ print length($5) }')" "big: TXT cut at 512 bytes"
assert_contains "$T_ERR" "TXT long.bl.example: text longer than 512 bytes: cut" "big: TXT cut logged"

# --- timeouts ----------------------------------------------------------------------

start=$(now_ms)
probe a silent.example.com
took=$(( $(now_ms) - start ))
assert_eq 0 "$T_RC" "timeout: probe exit status"
assert_eq "silent.example.com A tempfail 0 -" "$(line silent.example.com A)" "timeout: tempfail"
t=$(ms silent.example.com A)
if [ -n "$t" ] && [ "$t" -ge $((TIMEOUT_MS * 9 / 10)) ] && [ "$t" -le $((TIMEOUT_MS + SLACK_MS)) ]; then
	pass "timeout: within dns.timeout ($t ms of $TIMEOUT_MS)"
else
	fail "timeout: within dns.timeout" "answered after ${t:-?} ms, dns.timeout $TIMEOUT_MS ms"
fi
if [ "$(dns_queries silent.example.com A)" -ge 2 ]; then
	pass "timeout: retried within the budget ($(dns_queries silent.example.com A) tries)"
else
	fail "timeout: retried within the budget" "$(dns_queries silent.example.com A) queries seen"
fi
echo "# timeout run took $took ms in all"

# 50 queries at once: one silent name, 49 fast ones
names=()
for i in $(seq 1 49); do
	names+=("h$i.fast.example.com")
done
probe a silent.example.com "${names[@]}"
assert_eq 0 "$T_RC" "concurrent: probe exit status"
assert_eq 50 "$(printf '%s\n' "$T_OUT" | grep -c '^[^ ]* A [a-z]* ')" "concurrent: 50 answers"
assert_eq 49 "$(printf '%s\n' "$T_OUT" | grep -c '^h[0-9]*\.fast\.example\.com A ok 300 192\.0\.2\.[0-9]* ms=')" \
	"concurrent: every fast name answered ok"
slowest=$(printf '%s\n' "$T_OUT" | awk '$1 ~ /^h[0-9]+\.fast/ { sub(/.* ms=/, ""); if ($0 + 0 > m) m = $0 + 0 } END { print m + 0 }')
if [ "$slowest" -lt "$FAST_MS" ]; then
	pass "concurrent: fast names all within $FAST_MS ms (slowest $slowest ms)"
else
	fail "concurrent: fast names all within $FAST_MS ms" "slowest took $slowest ms"
fi
assert_eq "silent.example.com A tempfail 0 -" "$(line silent.example.com A)" "concurrent: silent name times out"
t=$(ms silent.example.com A)
if [ -n "$t" ] && [ "$t" -le $((TIMEOUT_MS + SLACK_MS)) ]; then
	pass "concurrent: silent name within dns.timeout ($t ms)"
else
	fail "concurrent: silent name within dns.timeout" "took ${t:-?} ms"
fi
assert_eq "h7.fast.example.com A ok 300 192.0.2.7" "$(line h7.fast.example.com A)" \
	"concurrent: answers go to their own query"

# a slow (but answering) server is waited for
probe a slow.example.com
assert_eq "slow.example.com A nodata 42 -" "$(line slow.example.com A)" "delay: late answer taken"

# --- cancelling --------------------------------------------------------------------

probe --free-after 100 a silent.example.com h1.fast.example.com
assert_eq 0 "$T_RC" "free: probe exit status (every callback once)"
assert_eq "silent.example.com A cancelled 0 -" "$(line silent.example.com A)" "free: pending query cancelled"
assert_eq "h1.fast.example.com A ok 300 192.0.2.1" "$(line h1.fast.example.com A)" "free: earlier answer kept"
t=$(ms silent.example.com A)
if [ -n "$t" ] && [ "$t" -lt "$TIMEOUT_MS" ]; then
	pass "free: cancelled at once ($t ms)"
else
	fail "free: cancelled at once" "took ${t:-?} ms"
fi

probe --free-in-callback a h1.fast.example.com silent.example.com
assert_eq 0 "$T_RC" "free in callback: probe exit status"
assert_eq "silent.example.com A cancelled 0 -" "$(line silent.example.com A)" \
	"free in callback: the rest cancelled after the callback"

# --- system resolver (no dns.servers) still starts ------------------------------------

printf 'dns = { timeout = "200ms"; };\n' >"$TMP/sys.conf"
run "$PROBE" -c "$TMP/sys.conf" a 'bad name'
assert_eq 0 "$T_RC" "resolv.conf: starts without dns.servers"

done_testing
