#!/bin/bash
# test_rconn_cluster.sh - common/rconn.c on a real Redis Cluster (three
# primaries, one replica each, on loopback): commands routed by hash slot,
# a pipeline over several primaries answered in order, MULTI/EXEC on one
# tag, CROSSSLOT returned as a reply, a slot moved under a running program
# (MOVED), a slot half-migrated (ASK), a primary killed (failover to its
# replica: errors only until the replica takes over), no node reachable,
# and the settings that cannot go with a cluster. Drives rconn_probe.

here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"

PROBE=${RCONN_PROBE:-$here/rconn_probe}
[ -x "$PROBE" ] || hard_error "rconn_probe not built: $PROBE"
redis-server --version | grep -q 'v=[7-9]\.' || skip_all "Redis Cluster tests need redis-server 7 or later (--cluster-port)"

CONF=$TMP/mhkit.conf

# count_re LOG RE - lines of LOG matching RE
count_re() {
	grep -c -E "$2" "$1"
}

# cli NAME ARGS... - redis-cli against one node, no redirects followed
cli() {
	redis-cli -h 127.0.0.1 -p "$(redis_port "$1")" "${@:2}"
}

cluster_start 3 1
seeds=()
for s in $CLUSTER_SEEDS; do seeds+=(--cluster "$s"); done
first=${CLUSTER_SEEDS%% *}
{
	echo "redis = {"
	echo "  timeout = \"500ms\";"
	printf '  cluster = { servers = [ "%s" ]; };\n' "${CLUSTER_SEEDS// /\", \"}"
	echo "};"
} >"$CONF"

# three tags on three different primaries (the slots redis-cli --cluster create gives: 0-5460, 5461-10922, 10923-16383)
A="{a}" B="{b}" C="{c}"
sa=$(cluster_keyslot "$A") sb=$(cluster_keyslot "$B") sc=$(cluster_keyslot "$C")
oa=$(cluster_slot_owner "$sa") ob=$(cluster_slot_owner "$sb") oc=$(cluster_slot_owner "$sc")
check_that "setup: the three tags live on three primaries ($oa $ob $oc)" \
	'[ -n "$oa" ] && [ -n "$ob" ] && [ -n "$oc" ] && [ "$oa" != "$ob" ] && [ "$ob" != "$oc" ] && [ "$oa" != "$oc" ]'

# --- routing, a pipeline over three primaries, transactions -------------------------

assert_exit 0 "$PROBE" -c "$CONF" --pipeline SET "${A}x" 1 ";" SET "${B}y" 2 ";" SET "${C}z" 3 ";" \
	GET "${A}x" ";" GET "${B}y" ";" GET "${C}z" ";" PING
assert_contains "$T_OUT" "address: cluster $first" "address names the cluster and its seeds"
assert_eq "$(grep -E '^#1\.[0-9]+ ' <<<"$T_OUT" | sed 's/.* ok //' | tr '\n' ' ')" "OK OK OK 1 2 3 PONG " \
	"pipeline over three primaries: every reply, in order"
assert_eq "$(cli "$oa" GET "${A}x"):$(cli "$ob" GET "${B}y"):$(cli "$oc" GET "${C}z")" "1:2:3" \
	"each key was written on the primary of its slot"

assert_exit 0 "$PROBE" "${seeds[@]}" --pipeline MULTI ";" SET "${A}k" 5 ";" INCR "${A}k" ";" EXEC
assert_contains "$T_OUT" "ok [OK, (integer) 6]" "MULTI/EXEC on one tag: one transaction on its primary, each command sent once"
assert_eq "$(cli "$oa" GET "${A}k")" "6" "the transaction's key holds 6 on the tag's primary"

assert_exit 0 "$PROBE" "${seeds[@]}" MSET "${A}m" 1 "${B}m" 2
assert_contains "$T_OUT" "CROSSSLOT" "a command over two slots: Redis's CROSSSLOT error is the reply"

# --- MOVED: the slot of {a} moves to {b}'s primary under a running program ---------------

src_id=$(cluster_id "$oa") dst_id=$(cluster_id "$ob")
"$PROBE" "${seeds[@]}" --count 2 --interval 3000 GET "${A}x" >"$TMP/moved.out" 2>"$TMP/moved.err" &
ppid=$!
register_pid "$ppid"
wait_until 10 grep -q '^#1 ' "$TMP/moved.out"
cli "$ob" CLUSTER SETSLOT "$sa" IMPORTING "$src_id" >/dev/null
cli "$oa" CLUSTER SETSLOT "$sa" MIGRATING "$dst_id" >/dev/null
cli "$oa" MIGRATE 127.0.0.1 "$(redis_port "$ob")" "" 0 5000 KEYS "${A}x" "${A}k" >"$TMP/migrate.out"
for n in "${CLUSTER_NAMES[@]}"; do
	cli "$n" CLUSTER SETSLOT "$sa" NODE "$dst_id" >/dev/null 2>&1
done
wait_until 15 eval '! pid_alive '"$ppid"
unregister_pid "$ppid"
wait "$ppid"
rc=$?
check_that "MOVED: the probe exits 0 ($rc)" '[ "$rc" = 0 ]'
assert_eq "$(count_re "$TMP/moved.out" " ok 1$")" "2" "MOVED: both reads answered 1, before and after the slot moved"
assert_eq "$(count_re "$TMP/moved.out" "error")" "0" "MOVED: no error"
assert_eq "$(cli "$ob" GET "${A}x")" "1" "MOVED: the key now lives on the new primary"

# --- ASK: {c}'s slot half-migrated to {b}'s primary ---------------------------------------

src_id=$(cluster_id "$oc")
cli "$oc" SET "${C}moved" here-now >/dev/null
cli "$oc" SET "${C}stays" still-there >/dev/null
cli "$ob" CLUSTER SETSLOT "$sc" IMPORTING "$src_id" >/dev/null
cli "$oc" CLUSTER SETSLOT "$sc" MIGRATING "$dst_id" >/dev/null
cli "$oc" MIGRATE 127.0.0.1 "$(redis_port "$ob")" "" 0 5000 KEYS "${C}moved" >/dev/null
assert_exit 0 "$PROBE" "${seeds[@]}" --pipeline GET "${C}moved" ";" GET "${C}stays"
assert_contains "$T_OUT" "#1.1 t=" "ASK: first reply"
assert_eq "$(grep -E '^#1\.[0-9]+ ' <<<"$T_OUT" | sed 's/.* ok //' | tr '\n' ' ')" "here-now still-there " \
	"ASK: the migrated key read from the importing primary (ASKING), the other from the source"
assert_match "$(cli "$oc" EXISTS "${C}stays"):$(cli "$oc" EXISTS "${C}moved")" "^1:ASK $sc " \
	"ASK: the slot is still split (the source has one key and sends ASK for the other)"
cli "$oc" MIGRATE 127.0.0.1 "$(redis_port "$ob")" "" 0 5000 KEYS "${C}stays" "${C}z" >/dev/null
for n in "${CLUSTER_NAMES[@]}"; do
	cli "$n" CLUSTER SETSLOT "$sc" NODE "$dst_id" >/dev/null 2>&1
done

# --- mhlist on the cluster: each domain's keys on its own primary -------------------------

if [ -x "${MHLIST:-}" ]; then
	mh() { "$MHLIST" -c "$CONF" "$@"; }
	assert_exit 0 mh domain add a.example --service relay --dest mx.a.example --port 2525
	assert_exit 0 mh domain add b.example --service backup
	assert_exit 0 mh users import a.example - <<<$'bob\ncarol'
	assert_contains "$T_OUT" "2 imported (replaced), 2 in the list" "mhlist: users import (MULTI/EXEC with RENAME) on the domain's primary"
	assert_exit 0 mh domain list
	assert_match "$T_OUT" "^a\.example +relay +mx\.a\.example +2525" "mhlist: domain list reads every domain's settings"
	assert_match "$T_OUT" "^b\.example +backup" "mhlist: the second domain too"
	assert_exit 0 mh account add bob --blocks 2
	assert_exit 0 mh account show bob
	assert_match "$T_OUT" "^limit +300 relays/day" "mhlist: account show on a cluster"
	for k in bob carol; do
		redis-cli -c -h 127.0.0.1 -p "$(redis_port "$oa")" SET "mh:{a.example}:ca:$k" x >/dev/null
	done
	assert_exit 0 mh cache purge @a.example
	assert_contains "$T_OUT" "purged 2 cached" "mhlist: cache purge finds the domain's keys (SCAN on the primary of its tag)"
	slot=$(cluster_keyslot "{a.example}")
	owner=$(cluster_slot_owner "$slot")
	assert_eq "$(cli "$owner" SCARD "mh:{a.example}:users")" "2" "mhlist: the user list lives on the primary of {a.example}"
else
	echo "# MHLIST not set: the mhlist steps did not run"
fi

# --- a primary killed: its replica takes over ---------------------------------------------

victim=$(cluster_slot_owner "$sb")
wait_until 10 cluster_synced || hard_error "the replicas did not catch up before the kill"
"$PROBE" -c "$CONF" --count 300 --interval 100 GET "${B}y" >"$TMP/failover.out" 2>"$TMP/failover.err" &
ppid=$!
register_pid "$ppid"
wait_until 10 grep -q '^#3 ' "$TMP/failover.out"
t_kill=$(now_ms)
redis_kill "$victim"
wait_until 60 eval '! pid_alive '"$ppid"
unregister_pid "$ppid"
wait "$ppid"
first_err=$(awk '/ error: / { sub(/^#[0-9]+ t=/, ""); print $1; exit }' "$TMP/failover.out")
last_err=$(awk '/ error: / { sub(/^#[0-9]+ t=/, ""); t = $1 } END { print t }' "$TMP/failover.out")
ok_after=$(awk -v t="${last_err:-0}" '/ ok 2$/ { sub(/^#[0-9]+ t=/, ""); if ($1 > t) n++ } END { print n + 0 }' "$TMP/failover.out")
echo "# failover: first error $(( ${first_err:-$t_kill} - t_kill )) ms after the kill, last $(( ${last_err:-$t_kill} - t_kill )) ms after it; $ok_after reads ok after"
check_that "failover: errors while {b}'s primary is down ($(count_re "$TMP/failover.out" " error: ") of 300)" \
	'[ "$(count_re "$TMP/failover.out" " error: ")" -ge 1 ]'
check_that "failover: reads answer 2 again once the replica is primary ($ok_after after the last error)" \
	'[ "$ok_after" -ge 10 ]'
assert_eq "$(count_re "$TMP/failover.out" " ok " )" "$(count_re "$TMP/failover.out" " ok 2$")" \
	"failover: every answer is the value written (nothing stale, nothing else)"
assert_contains "$(cat "$TMP/failover.err")" "connection lost" "failover: the lost connection is logged"
assert_contains "$(cat "$TMP/failover.err")" "reconnected" "failover: the return is logged"

# --- nothing reachable; settings that cannot go with a cluster ---------------------------

dead=$(free_port)
assert_exit 1 "$PROBE" --cluster "127.0.0.1:$dead" --timeout-ms 300 GET k
assert_contains "$T_OUT" "error: cluster 127.0.0.1:$dead: no usable node: 127.0.0.1:$dead: Connection refused" \
	"no node reachable: the error names the cluster and each seed's failure"

for bad in 'sentinel = { master = "m"; servers = [ "127.0.0.1:26379" ]; };' 'unix = "/run/redis.sock";' 'db = 2;'; do
	printf 'redis = { cluster = { servers = [ "127.0.0.1:7000" ]; }; %s };\n' "$bad" >"$TMP/bad.conf"
	assert_exit 78 "$PROBE" -c "$TMP/bad.conf" PING
	assert_contains "$T_ERR" "redis.cluster.servers" "config: a cluster with ${bad%% =*} is refused, naming the setting"
done

done_testing
