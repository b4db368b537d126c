#!/bin/bash
# test_policyd_cluster.sh - mhpolicyd on a real Redis Cluster (three
# primaries, one replica each, on loopback): the slot map read at start,
# socketmap answers for domains on every primary, a domain added with
# mhlist answered at once, outbound counting for accounts on three
# primaries (COMMIT batches grouped by slot: no CROSSSLOT), 30 accounts'
# END-OF-MESSAGEs at once counted exactly, a COMMIT held past
# redis.timeout sent again to its slot's primary, and a primary killed: its
# accounts get the backend-error reply until its replica takes over,
# the others are not disturbed, and nothing is counted twice.

here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/outbound.sh"

POLICYD=${MHPOLICYD:?MHPOLICYD: path of the built mhpolicyd}
MHLIST=${MHLIST:?MHLIST: path of the built mhlist}
redis-server --version | grep -q 'v=[7-9]\.' || skip_all "Redis Cluster tests need redis-server 7 or later (--cluster-port)"
[ -x /usr/bin/python3 ] || skip_all "/usr/bin/python3 not installed"
WIRE="/usr/bin/python3 $TESTS_LIB/wire.py"
DEFER="action=451 4.3.0 Temporary lookup failure"

cli() {	# cli NAME ARGS... - redis-cli against one node, no redirects followed
	redis-cli -h 127.0.0.1 -p "$(redis_port "$1")" "${@:2}"
}
ccli() {	# ccli ARGS... - redis-cli against the cluster (its first live node), following redirects
	local n
	for n in "${CLUSTER_NAMES[@]}"; do
		[ -n "${REDIS_PIDS[$n]:-}" ] && break
	done
	redis-cli -c -h 127.0.0.1 -p "$(redis_port "$n")" "$@"
}

cluster_start 3 1
PPORT=$(free_port)
SPORT=$(free_port)
DEAD_DNS=$(free_port)
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF" --redis "timeout = \"500ms\"; cluster = { servers = [ \"${CLUSTER_SEEDS// /\", \"}\" ]; };" \
	"policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; };
node = { hostnames = [ \"relay1.mhkit.test\" ]; };
dns = { servers = [ \"127.0.0.1@$DEAD_DNS\" ]; timeout = \"500ms\"; };"
mh() { "$MHLIST" -c "$CONF" "$@"; }

# accounts and domains spread over the three primaries (slots 0-5460,
# 5461-10922, 10923-16383): a0..a29; bravo (4367), foxtrot (9922), the
# others above 10923
DOMS=(alpha bravo charlie delta echo foxtrot)
for i in $(seq 0 29); do mh account add "a$i" --blocks 1 >/dev/null || hard_error "mhlist account add a$i"; done
for d in "${DOMS[@]}"; do mh domain add "$d.test" --service relay --dest "mx.$d.test" >/dev/null || hard_error "domain add $d"; done
owner_of() { cluster_slot_owner "$(cluster_keyslot "$1")"; }
owners=$(for i in $(seq 0 29); do owner_of "{acct:a$i}"; done | sort -u | wc -l)
check_that "setup: the 30 accounts live on all three primaries ($owners)" '[ "$owners" = 3 ]'

start_bg mhpolicyd "$POLICYD" -c "$CONF" -f
PID=$BG_PID
wait_until 10 grep -q "slot map read: 3 primaries" "$TMP/mhpolicyd.log"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "slot map read: 3 primaries" "mhpolicyd read the cluster's slot map"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "redis cluster 127.0.0.1:" "its address names the cluster"

# --- socketmap: every domain, wherever its keys live ----------------------------------

sm() { socketmap_query "$SPORT" "$@"; }	# sm MAP KEY - the payload of mhpolicyd's answer
d_owners=$(for d in "${DOMS[@]}"; do owner_of "{$d.test}"; done | sort -u | wc -l)
check_that "setup: the six domains live on all three primaries ($d_owners)" '[ "$d_owners" = 3 ]'
assert_eq "$(for d in "${DOMS[@]}"; do sm relay_domains "$d.test"; done | grep -c '^OK ')" "6" \
	"socketmap: all six domains answered OK"
assert_eq "$(sm transport_maps bob@delta.test)" "OK smtp:[mx.delta.test]:25" "socketmap: transport_maps on the cluster"
assert_eq "$(sm relay_domains nope.test)" "NOTFOUND " "socketmap: an unknown domain is NOTFOUND"
t0=$(now_ms)
mh domain add new.test --service relay --dest mx.new.test --port 2525 >/dev/null
wait_until 5 eval '[ "$(sm relay_domains new.test)" = "OK new.test" ]'
t1=$(now_ms)
assert_eq "$(sm relay_domains new.test)" "OK new.test" "a domain added with mhlist is answered at once, no reload ($((t1 - t0)) ms)"

# --- outbound counting ---------------------------------------------------------------

day() {
	local t
	t=$(ccli TIME | head -n 1)
	echo $((t / 86400))
}
used() {	# used USER - today's counter on the cluster (0 when none)
	local v
	v=$(ccli GET "mh:{acct:$1}:used:$(day)")
	echo "${v:-0}"
}

# one message each for a0, a1, a2 on one connection, 2 recipients each
out=$({ eom a0 100 2 1024; eom a1 101 2 1024; eom a2 102 2 1024; } | $WIRE exchange 127.0.0.1 "$PPORT")
assert_eq "$(grep -c '^action=DUNNO$' <<<"$out")" "3" "outbound: three accounts' messages accepted"
assert_eq "$(used a0):$(used a1):$(used a2)" "2:2:2" "outbound: each counted on its own primary"

# 30 accounts at once, each on its own connection: COMMIT batches must group by slot
for i in $(seq 0 29); do eom "a$i" "2$i" 3 1024; done >"$TMP/burst.req"
$WIRE scatter 127.0.0.1 "$PPORT" "$TMP/burst.req" >"$TMP/burst.out"
assert_eq "$(grep -c '^action=DUNNO$' "$TMP/burst.out")" "30" "30 END-OF-MESSAGEs at once: all accepted"
total=0
for i in $(seq 0 29); do total=$((total + $(used "a$i"))); done
assert_eq "$total" "$((30 * 3 + 3 * 2))" "30 END-OF-MESSAGEs at once: every relay counted once (no CROSSSLOT, no double count)"
assert_not_contains "$(cat "$TMP/mhpolicyd.log")" "CROSSSLOT" "no CROSSSLOT error from Redis"

# --- a primary that holds a COMMIT: sent again once it answers ---------------------------
# a5's primary pauses writers for 700 ms (CLIENT PAUSE WRITE: reads go on,
# so the account is read; the COMMIT script waits) just before a5's
# END-OF-MESSAGE: its reply is lost after redis.timeout (500 ms) and the
# connection dropped (the waiting COMMIT never runs). mhpolicyd then waits
# up to 500 ms more for that primary - not for "the cluster", which has
# its slot map all along - and sends the same COMMIT again once the node
# is connected again: accepted, counted once.
fz=$(owner_of "{acct:a5}")
before=$(used a5)
cli "$fz" CLIENT PAUSE 700 WRITE >/dev/null
run $WIRE exchange 127.0.0.1 "$PPORT" < <(eom a5 500 2 1024)
assert_eq "action=DUNNO" "$T_OUT" "a primary holding the COMMIT past redis.timeout: accepted once it answers, not 451"
assert_eq "$((before + 2))" "$(used a5)" "...and counted once"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "Q500: outbound: sasl_username=a5: COMMIT sent again after its reply was lost" \
	"...the COMMIT sent again to the primary of its slot once it was connected again"

# --- a primary killed ------------------------------------------------------------------

victim=$(owner_of "{acct:a0}")
other=""
for i in $(seq 1 29); do
	[ "$(owner_of "{acct:a$i}")" != "$victim" ] && { other=a$i; break; }
done
before_other=$(used "$other")
cli "$victim" WAIT 1 2000 >/dev/null	# its replica has every count so far
redis_kill "$victim"
t_kill=$(now_ms)
n=0 deferred=0 accepted_after=0 other_ok=0 first_ok=
while (( $(now_ms) - t_kill < 20000 )) && [ -z "$first_ok" ]; do
	n=$((n + 1))
	a=$({ eom a0 "9$n" 1 1024; eom "$other" "8$n" 1 1024; } | $WIRE exchange 127.0.0.1 "$PPORT" | tr '\n' '|')
	case $a in
	"$DEFER|"*) deferred=$((deferred + 1)) ;;
	"action=DUNNO|"*) first_ok=$(( $(now_ms) - t_kill )) ;;
	esac
	case $a in *"|action=DUNNO|") other_ok=$((other_ok + 1)) ;; esac
	sleep 0.1
done
echo "# failover: a0's primary killed; $deferred END-OF-MESSAGEs deferred, accepted again ${first_ok:-never} ms after the kill"
check_that "failover: a0's messages deferred (451) while its primary is down ($deferred)" '[ "$deferred" -ge 1 ]'
check_that "failover: a0's messages accepted again once its replica took over (${first_ok:-never} ms)" '[ -n "$first_ok" ]'
assert_eq "$other_ok" "$n" "failover: $other (another primary) accepted throughout ($other_ok of $n)"
assert_eq "$(used "$other")" "$((before_other + n))" "failover: $other counted once per accepted message"
assert_eq "$(used a0)" "$((2 + 3 + 1))" "failover: a0 counted only the message accepted after the failover (deferred ones never)"
check_that "mhpolicyd runs" 'pid_alive "$PID"'

done_testing
