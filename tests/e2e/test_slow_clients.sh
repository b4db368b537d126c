#!/bin/bash
# test_slow_clients.sh - issue 8 item 6, resource bounds, measured: with
# 5,000 idle and 1,000 slow-drip connections open on mhpolicyd's policy
# listener, real relay-domain RCPT requests (Redis, a warm MX cache) still
# get the right answer within 10 ms at the 99th percentile; the idle ones
# are closed after policyd.idle_timeout (and within the sweep's bound)
# while the drips, active within it, stay; connection max_connections+1 is
# closed at once and logged; the memory per held connection is bounded.
# The same, briefly, on the socketmap listener. mhmilter has no connection
# limit (libmilter has none; doc/mhmilter.md): the test holds idle
# connections to it and shows it still negotiates with new ones.
#
# Runs in its own network namespace (tests/lib/isolate.sh): thousands of
# loopback connections and their TIME-WAITs stay there. The load comes
# from tests/integration/slowload (SLOWLOAD; built here with cc when
# unset). Figures are printed as "# ..." lines. About a minute.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"

POLICYD=${MHPOLICYD:?}
MILTER=${MHMILTER:?}
MHLIST=${MHLIST:?}

IDLE=5000		# issue 8 item 6
DRIP=1000
REQUESTS=2500		# timed requests (at least ~2,000)
RATE=500		# of them a second, over 4 connections
P99_MS=10		# the issue's target
KB_PER_CONN=16		# a generous bound on the daemon's memory per held connection
IDLE_TIMEOUT=3		# seconds, for the timeout checks
SWEEP_MS=750		# server.c: the sweep runs every idle_timeout/4 (100 ms..1 s)
SLACK_MS=1000		# scheduling on a loaded machine
MAX_CONNS=7000

if [ -z "${SLOWLOAD:-}" ]; then
	SLOWLOAD=$TMP/slowload
	${CC:-cc} -O2 -std=c11 -o "$SLOWLOAD" "$here/../integration/slowload.c" ||
		hard_error "cannot build tests/integration/slowload.c (set SLOWLOAD)"
fi
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge $((MAX_CONNS + 200)) ] ||
	skip_all "ulimit -n is $(ulimit -n); this test needs $((MAX_CONNS + 200)) descriptors"
# this namespace's own port range: room for every connection and TIME-WAIT of the run
sysctl -qw net.ipv4.ip_local_port_range="10000 65000" 2>/dev/null

redis_start
# fixed ports below the namespace's ephemeral range (10000-65000): a port
# picked from inside it can be the local port of one of the thousands of
# client connections below when mhmilter binds it (EADDRINUSE: seen once)
PPORT=4001
SPORT=4002
MPORT=4003
DEAD_DNS=4004
CONF=$TMP/mhkit.conf
write_conf() {	# write_conf IDLE_TIMEOUT
	mhkit_conf_write "$CONF" "policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\";
  idle_timeout = \"$1\"; max_connections = $MAX_CONNS; };
milter = { listen = \"inet:127.0.0.1:$MPORT\"; };
node = { hostnames = [\"relay1.mhkit.test\"]; };
dns = { servers = [\"127.0.0.1@$DEAD_DNS\"]; timeout = \"500ms\"; };"
}
reload() {	# reload IDLE_TIMEOUT - SIGHUP with a new idle_timeout, wait until it is in force
	local n
	n=$(grep -c "reloaded" "$TMP/mhpolicyd.log")
	write_conf "$1"
	kill -HUP "$PID"
	# eval: the count is taken again at each try (an argument of test would be taken once)
	wait_until 5 eval '[ "$(grep -c reloaded "$TMP/mhpolicyd.log")" -gt '"$n"' ]' || hard_error "reload not done"
}
write_conf 60s
"$MHLIST" -c "$CONF" domain add relay.test --service relay --dest mx.customer.test --port 2525 --callahead off >/dev/null
# a warm MX cache: this node is the primary, no DNS needed
redis_cli redis SET 'mh:{relay.test}:mx' "10 relay1.mhkit.test" EX 3600 >/dev/null

start_bg mhpolicyd "$POLICYD" -c "$CONF" -f
PID=$BG_PID
wait_until 10 grep -q "ready" "$TMP/mhpolicyd.log" || hard_error "mhpolicyd did not start"

# field KEY LINE - the value of KEY=VALUE in LINE
field() {
	local w
	for w in $2; do
		case $w in "$1="*) echo "${w#*=}"; return 0 ;; esac
	done
	echo ""
}
# lt A B - A < B, as decimals
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 < b + 0) }'; }
# settle - wait until mhpolicyd holds no client connection (the last run's closes are done)
settle() {
	local want=$1
	wait_until 15 eval '[ "$(ls "/proc/$PID/fd" | wc -l)" -le '"$want"' ]'	# eval: counted at each try
}
FDS0=$(ls "/proc/$PID/fd" | wc -l)

# --- 5,000 idle + 1,000 drip connections, timed requests meanwhile ---------------------
run "$SLOWLOAD" -p "$PPORT" -s "$PID" -r bob@relay.test -e 'action=DUNNO\n\n' -c 4 -b 1000 \
	-i "$IDLE" -d "$DRIP" -n "$REQUESTS" -R "$RATE" -T 3 -G "$P99_MS" -t 90 load
sed 's/^/# /' <<<"$T_OUT"
[ -n "$T_ERR" ] && sed 's/^/# stderr: /' <<<"$T_ERR"
assert_eq 0 "$T_RC" "slowload load: ran to its end"
base=$(grep '^baseline' <<<"$T_OUT")
held=$(grep '^held' <<<"$T_OUT")
loaded=$(grep '^loaded' <<<"$T_OUT" | tail -n1)
after=$(grep '^after' <<<"$T_OUT")
assert_eq "$IDLE/$IDLE $DRIP/$DRIP" "$(field idle "$held") $(field drip "$held")" \
	"$IDLE idle and $DRIP drip connections open"
check "mhpolicyd holds them all ($(field fds "$held") descriptors, $FDS0 before)" \
	test "$(field fds "$held")" -ge $((FDS0 + 4 + IDLE + DRIP))
echo "# baseline (4 connections, nothing else): p50 $(field p50_ms "$base") ms, p99 $(field p99_ms "$base") ms, max $(field max_ms "$base") ms over $(field count "$base")"
echo "# with $IDLE idle + $DRIP drip: p50 $(field p50_ms "$loaded") ms, p99 $(field p99_ms "$loaded") ms, max $(field max_ms "$loaded") ms over $(field count "$loaded") ($(grep -c '^loaded' <<<"$T_OUT") attempt(s))"
check "at least 2,000 timed requests ($(field count "$loaded"))" test "$(field count "$loaded")" -ge 2000
assert_eq "0 0" "$(field wrong "$loaded") $(field failed "$loaded")" \
	"every timed request answered action=DUNNO (wrong, failed)"
if lt "$(field p99_ms "$loaded")" "$P99_MS"; then
	pass "p99 under $P99_MS ms with $IDLE idle and $DRIP drip connections ($(field p99_ms "$loaded") ms)"
else
	fail "p99 under $P99_MS ms with $IDLE idle and $DRIP drip connections ($(field p99_ms "$loaded") ms)" \
		"baseline p99 without them: $(field p99_ms "$base") ms (a p99 that high too means a busy machine)"
fi
kbc=$(field kb_per_conn "$held")
echo "# memory: RSS $(field rss_base_kb "$held") KB -> $(field rss_held_kb "$held") KB for $((IDLE + DRIP)) connections: $kbc KB a connection"
check "memory per held connection under $KB_PER_CONN KB ($kbc KB)" lt "$kbc" "$KB_PER_CONN"
assert_eq "0 0 0" "$(field idle_closed "$after") $(field drip_closed "$after") $(field unexpected_bytes "$after")" \
	"idle_timeout 60s: no idle or drip connection closed, nothing sent to them"
check "the drip connections dripped ($(field drip_bytes "$after") bytes)" test "$(field drip_bytes "$after")" -ge "$DRIP"
assert_not_contains "$(cat "$TMP/mhpolicyd.log")" "too many connections" "under max_connections: nothing refused"
settle "$FDS0" || echo "# mhpolicyd still holds $(ls "/proc/$PID/fd" | wc -l) descriptors"

# --- idle_timeout: idle ones closed after it, drips (a byte a second) kept ---------------
reload "${IDLE_TIMEOUT}s"
run "$SLOWLOAD" -p "$PPORT" -s "$PID" -i "$IDLE" -d 200 -t 30 idle
sed 's/^/# /' <<<"$T_OUT"
idle=$(grep '^idle' <<<"$T_OUT")
drip=$(grep '^drip opened' <<<"$T_OUT")
echo "# idle_timeout ${IDLE_TIMEOUT}s: closed $(field min_ms "$idle")..$(field max_ms "$idle") ms after connecting (median $(field p50_ms "$idle"))"
assert_eq "$IDLE 0" "$(field closed "$idle") $(field still_open "$idle")" "idle_timeout: every idle connection closed"
check "idle_timeout: none closed before ${IDLE_TIMEOUT}s ($(field min_ms "$idle") ms)" \
	test "$(field min_ms "$idle")" -ge $((IDLE_TIMEOUT * 1000 - 100))
check "idle_timeout: all closed within ${IDLE_TIMEOUT}s + sweep ${SWEEP_MS} ms + ${SLACK_MS} ms ($(field max_ms "$idle") ms)" \
	test "$(field max_ms "$idle")" -le $((IDLE_TIMEOUT * 1000 + SWEEP_MS + SLACK_MS))
assert_eq "200 0" "$(field still_open "$drip") $(field closed "$drip")" \
	"idle_timeout: slow-drip connections, active within it, kept"
settle "$FDS0"

# --- max_connections: the one past it is closed at once, logged ---------------------------
reload 60s
run "$SLOWLOAD" -p "$PPORT" -s "$PID" -i "$MAX_CONNS" -t 60 cap
sed 's/^/# /' <<<"$T_OUT"
cap=$(grep '^cap held' <<<"$T_OUT")
assert_eq "$MAX_CONNS/$MAX_CONNS" "$(field held "$cap")" "max_connections $MAX_CONNS: that many held"
assert_eq 1 "$(field extra_closed "$cap")" "connection $((MAX_CONNS + 1)): closed by mhpolicyd"
check "connection $((MAX_CONNS + 1)): closed at once ($(field extra_close_ms "$cap") ms)" lt "$(field extra_close_ms "$cap")" 1000
assert_eq "$MAX_CONNS" "$(field idle_open "$cap")" "connection $((MAX_CONNS + 1)): the others stay"
assert_contains "$T_OUT" "new_connection_kept=1" "one of them closed: a new connection is taken again"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "policy: too many connections (policyd.max_connections); connection refused" \
	"refusal logged"
settle "$FDS0"

# --- the socketmap listener, briefly ----------------------------------------------------
run "$SLOWLOAD" -p "$SPORT" -s "$PID" -P socketmap -k 'relay_domains relay.test' -e '13:OK relay.test,' \
	-c 2 -b 200 -i 1000 -d 200 -n 1000 -R "$RATE" -T 3 -G "$P99_MS" -t 60 load
sed 's/^/# /' <<<"$T_OUT"
held=$(grep '^held' <<<"$T_OUT")
loaded=$(grep '^loaded' <<<"$T_OUT" | tail -n1)
after=$(grep '^after' <<<"$T_OUT")
assert_eq "1000/1000 200/200" "$(field idle "$held") $(field drip "$held")" "socketmap: 1000 idle and 200 drip connections open"
assert_eq "1000 0 0" "$(field count "$loaded") $(field wrong "$loaded") $(field failed "$loaded")" \
	"socketmap: every lookup answered OK relay.test"
echo "# socketmap with 1000 idle + 200 drip: p50 $(field p50_ms "$loaded") ms, p99 $(field p99_ms "$loaded") ms, max $(field max_ms "$loaded") ms"
check "socketmap: p99 under $P99_MS ms ($(field p99_ms "$loaded") ms)" lt "$(field p99_ms "$loaded")" "$P99_MS"
assert_eq "0 0" "$(field idle_closed "$after") $(field drip_closed "$after")" "socketmap: none closed within idle_timeout"
settle "$FDS0"
reload "${IDLE_TIMEOUT}s"
run "$SLOWLOAD" -p "$SPORT" -s "$PID" -P socketmap -i 500 -d 50 -t 30 idle
idle=$(grep '^idle' <<<"$T_OUT")
drip=$(grep '^drip opened' <<<"$T_OUT")
echo "# socketmap idle_timeout ${IDLE_TIMEOUT}s: closed $(field min_ms "$idle")..$(field max_ms "$idle") ms after connecting"
assert_eq "500 0" "$(field closed "$idle") $(field still_open "$idle")" "socketmap: idle connections closed"
check "socketmap: closed between ${IDLE_TIMEOUT}s and the sweep's bound ($(field min_ms "$idle")..$(field max_ms "$idle") ms)" \
	test "$(field min_ms "$idle")" -ge $((IDLE_TIMEOUT * 1000 - 100)) -a \
	"$(field max_ms "$idle")" -le $((IDLE_TIMEOUT * 1000 + SWEEP_MS + SLACK_MS))
assert_eq "50 0" "$(field still_open "$drip") $(field closed "$drip")" "socketmap: drip connections kept"
check "mhpolicyd never died" pid_alive "$PID"
stop_pid "$PID" TERM
assert_contains "$(cat "$TMP/mhpolicyd.log")" "stopped:" "mhpolicyd: clean exit after the load"

# --- mhmilter: no connection limit (libmilter has none); idle ones are threads -----------
start_bg mhmilter "$MILTER" -c "$CONF" -f
MPID=$BG_PID
wait_until 10 grep -q "ready" "$TMP/mhmilter.log" || hard_error "mhmilter did not start: $(tail -n 5 "$TMP/mhmilter.log")"
run "$SLOWLOAD" -p "$MPORT" -s "$MPID" -i 300 -n 200 -t 60 milter
sed 's/^/# /' <<<"$T_OUT"
mh=$(grep '^milter held' <<<"$T_OUT")
opt=$(grep '^optneg' <<<"$T_OUT")
assert_eq "300/300" "$(field idle "$mh")" "mhmilter: 300 idle connections held (no limit to refuse them)"
assert_eq "200 0 0" "$(field count "$opt") $(field wrong "$opt") $(field failed "$opt")" \
	"mhmilter: with them open, 200 new connections negotiated"
echo "# mhmilter with 300 idle connections: descriptors $(field fds "$mh"), threads $(field threads "$mh"), RSS $(field rss_kb "$mh") KB; negotiation (connect included) p50 $(field p50_ms "$opt") ms, p99 $(field p99_ms "$opt") ms"
check "mhmilter never died" pid_alive "$MPID"
done_testing
