#!/bin/bash
# test_policyd_replicas.sh - redis.wait_replicas: an outbound message's
# count is on a replica before mhpolicyd accepts the message, so a
# failover cannot lose it. Real redis-server primary and replica, policy
# requests as Postfix sends them (wire.py), no Postfix:
#   - wait_replicas = 1: a message accepted, its count on the replica at
#     the answer;
#   - the replica frozen (SIGSTOP): the COMMIT runs on the primary but no
#     replica has it: sent again, still on no replica -> 451, and the
#     count taken back (the counter as before, the record "undone");
#   - the replica back: messages accepted and counted again;
#   - wait_replicas = 0 (SIGHUP), the replica frozen: accepted at once
#     (the count on the primary only, as before this setting existed);
#   - wait_replicas out of range: the configuration refused.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/outbound.sh"
need_cmd /usr/bin/python3

POLICYD=${MHPOLICYD:?}
MHLIST=${MHLIST:?}
WIRE="/usr/bin/python3 $TESTS_LIB/wire.py"
DEFER="action=451 4.3.0 Temporary lookup failure"

redis_start primary
redis_start replica --replicaof 127.0.0.1 "$(redis_port primary)"
wait_until 10 replica_synced replica || hard_error "the replica did not sync"
PPORT=$(free_port)
SPORT=$(free_port)
DEAD_DNS=$(free_port)
CONF=$TMP/mhkit.conf
write_conf() {	# write_conf WAIT-REPLICAS
	mhkit_conf_write "$CONF" --instance primary --redis "timeout = \"1s\"; wait_replicas = $1;" \
		"policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; };
node = { hostnames = [\"relay1.mhkit.test\"]; };
dns = { servers = [\"127.0.0.1@$DEAD_DNS\"]; timeout = \"500ms\"; };"
}
write_conf 1
"$MHLIST" -c "$CONF" account add alice --blocks 1 >/dev/null || hard_error "mhlist account add alice"

start_bg mhpolicyd "$POLICYD" -c "$CONF" -f
PID=$BG_PID
wait_until 10 grep -q "ready" "$TMP/mhpolicyd.log" || hard_error "mhpolicyd did not start"

ex() { $WIRE exchange 127.0.0.1 "$PPORT"; }
day() { local t; t=$(redis_cli primary TIME | head -n 1); echo $((t / 86400)); }
used() {	# used INSTANCE - alice's counter there (0 when none)
	local v
	v=$(redis_cli "$1" GET "mh:{acct:alice}:used:$(day)")
	echo "${v:-0}"
}
log() { cat "$TMP/mhpolicyd.log"; }

# --- the replica up: accepted, and on the replica at the answer ----------------------
run ex < <(message alice m1 2 100)
assert_eq "$(dunnos 3)" "$T_OUT" "wait_replicas = 1, the replica up: accepted"
assert_eq 2 "$(used replica)" "...and the count is on the replica when the answer comes"

# --- the replica frozen: on no replica -> 451, the count taken back ---------------------
kill -STOP "$(redis_pid replica)"
t0=$(now_ms)
run ex < <(message alice m2 3 100)
t1=$(now_ms)
assert_eq "$(dunnos 3)
$DEFER" "$T_OUT" "the replica frozen: RCPTs DUNNO, END-OF-MESSAGE 451 (the count on no replica)"
echo "# the 451 came $((t1 - t0)) ms after the first RCPT (WAIT 500 ms, twice)"
assert_contains "$(log)" "commitq: COMMIT of 1 messages not known to be on a replica: on 0 of the 1 replicas redis.wait_replicas asks for after 500 ms" \
	"the WAIT that fell short is logged"
assert_eq 2 "$(grep -c "not known to be on a replica" "$TMP/mhpolicyd.log")" "the COMMIT sent again, and on no replica either"
assert_contains "$(log)" "Qm2: outbound: END-OF-MESSAGE from client.test[192.0.2.7]: COMMIT: the second try lost too (on 0 of the 1 replicas" \
	"...and why its outcome is unknown: logged with the message"
wait_until 10 eval '[ "$(used primary)" = 2 ] && grep -q "Qm2: outbound: undo of" "$TMP/mhpolicyd.log"' ||
	fail "the count of the refused message was not taken back within 10 s"
assert_eq 2 "$(used primary)" "the count taken back on the primary: the counter as before the refused message"
assert_eq undone "$(redis_cli primary GET 'mh:{acct:alice}:msg:Qm2')" "the message's record marks it undone"

# --- the replica back ---------------------------------------------------------------------
kill -CONT "$(redis_pid replica)"
wait_until 10 eval '[ "$(used replica)" = 2 ]' || fail "the replica did not catch up"
run ex < <(message alice m3 1 100)
assert_eq "$(dunnos 2)" "$T_OUT" "the replica back: accepted"
assert_eq "3:3" "$(used primary):$(used replica)" "...counted on the primary and the replica"

# --- wait_replicas = 0: the primary's word is enough ----------------------------------------
write_conf 0
kill -HUP "$PID"
wait_until 5 grep -q "reloaded" "$TMP/mhpolicyd.log" || fail "no reload"
short=$(grep -c "not known to be on a replica" "$TMP/mhpolicyd.log")
kill -STOP "$(redis_pid replica)"
t0=$(now_ms)
run ex < <(message alice m4 2 100)
t1=$(now_ms)
kill -CONT "$(redis_pid replica)"
assert_eq "$(dunnos 3)" "$T_OUT" "wait_replicas = 0, the replica frozen: accepted"
echo "# answered in $((t1 - t0)) ms"
assert_eq "$short" "$(grep -c "not known to be on a replica" "$TMP/mhpolicyd.log")" "...without asking the replicas (no WAIT)"
assert_eq 5 "$(used primary)" "...and counted on the primary"

# --- out of range ------------------------------------------------------------------------
mhkit_conf_write "$TMP/bad.conf" --instance primary --redis 'wait_replicas = 17;' \
	"policyd = { listen = \"inet:127.0.0.1:$PPORT\"; };"
assert_exit 78 "$POLICYD" -c "$TMP/bad.conf" -f
assert_contains "$T_ERR" "redis.wait_replicas" "wait_replicas = 17: refused, naming the setting"

stop_pid "$PID"
done_testing
