#!/bin/bash
# three_nodes.sh - three mhkit nodes (each: a relay Postfix, an outbound
# Postfix, mhpolicyd, mhmilter) sharing one Redis topology, run by
# test_three_nodes_cluster.sh (TOPOLOGY=cluster: three primaries with
# two replicas each) and test_three_nodes_sentinel.sh (TOPOLOGY=sentinel: a
# primary, two replicas, three sentinels). Each node is a network
# namespace of its own (tests/lib/netns.sh: ip netns, a veth on a bridge
# in the test's namespace), with its own loopback where its Postfix
# instances talk to its daemons, and two addresses on the bridge: relay
# 198.51.100.2N, outbound 198.51.100.3N. The test's namespace is the rest
# of the world: Redis and a DNS server on the bridge's 198.51.100.1, the
# customers' servers and the senders on addresses of its lo (192.0.2.x),
# which the nodes reach through their default route. The domains' MX are
# the three nodes.
#
#   1. a domain added with mhlist on node 1 is relayed by node 3 at once
#      (the delay measured: from the add to node 3's 250 after DATA);
#   2. one call-ahead per address across the nodes: RCPTs for one new
#      address through the three nodes at once, the customer's server
#      sees one probe;
#   3. the quota exact across nodes: 16 senders over the three outbound
#      nodes push 3x past a 150-relay limit: 150 accepted, the counter
#      150, 150 at the recipients' server;
#   4. the Redis primary (of relay.test's slot, on a cluster) killed
#      while mail flows through every node: nothing accepted is lost or
#      duplicated, nothing refused is delivered, no 5xx, the outbound
#      counter equals what arrived (redis.wait_replicas = 1: no count
#      accepted on the old primary is lost with it), and the 4xx window
#      is measured.

here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/netns.sh"
HUB=198.51.100.1			# the bridge's address: Redis and DNS listen there
REDIS_HOST=$HUB
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/dns.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"
[ -x /usr/bin/python3 ] || skip_all "/usr/bin/python3 not installed"
# about distribution, not memory: the daemons' sanitizer runs are the other
# suites' (this one runs six Postfix instances and six daemons for minutes)
[ "${SANITIZERS:-no}" = yes ] && skip_all "not run in the sanitizer build (see the comment)"
# .ci/run's distcheck sets it: the plain suite has just run these
[ "${SKIP_THREE_NODES:-0}" = 1 ] && skip_all "SKIP_THREE_NODES=1"
redis-server --version | grep -q 'v=[7-9]\.' || skip_all "needs redis-server 7 or later"

TOPOLOGY=${TOPOLOGY:?TOPOLOGY: cluster or sentinel}
POLICYD=${MHPOLICYD:?MHPOLICYD: path of the built mhpolicyd}
MILTER=${MHMILTER:?MHMILTER: path of the built mhmilter}
MHLIST=${MHLIST:?MHLIST: path of the built mhlist}
LOADPY=$here/../faults/mailload.py
FAKESMTP=$TESTS_LIB/fakesmtp.py
PW=s3cret-Pass
NODES=(1 2 3)

# --- the world: DNS, the customers' servers, Redis -----------------------------------

CLIENT=192.0.2.25	# the senders: not in any node's mynetworks
DEST=192.0.2.5		# relay.test's and new.test's server
CA_HOST=192.0.2.6	# ca.test's server (call-aheads)
SENDERS_MX=192.0.2.8	# bounces, if any
REMOTE_MX=192.0.2.9	# the outbound recipients' MX
isolate_addr_add "$CLIENT" "$DEST" "$CA_HOST" "$SENDERS_MX" "$REMOTE_MX"
netns_hub "$HUB/24"
for n in "${NODES[@]}"; do
	netns_node "n$n" "198.51.100.2$n" "198.51.100.3$n"
done
# every namespace resolves through the test's DNS server on the bridge
isolate_resolver "$HUB"
CA_PORT=$(free_port)
cat >"$TMP/zone" <<ZONE
mhkit.test ZONE
relay1.mhkit.test A 198.51.100.21
relay2.mhkit.test A 198.51.100.22
relay3.mhkit.test A 198.51.100.23
out1.mhkit.test A 198.51.100.31
out2.mhkit.test A 198.51.100.32
out3.mhkit.test A 198.51.100.33
relay.test ZONE
relay.test MX 10 relay1.mhkit.test.
relay.test MX 10 relay2.mhkit.test.
relay.test MX 10 relay3.mhkit.test.
new.test ZONE
new.test MX 10 relay1.mhkit.test.
new.test MX 10 relay2.mhkit.test.
new.test MX 10 relay3.mhkit.test.
ca.test ZONE
ca.test MX 10 relay1.mhkit.test.
ca.test MX 10 relay2.mhkit.test.
ca.test MX 10 relay3.mhkit.test.
sender.test ZONE
sender.test MX 10 mx.sender.test.
mx.sender.test A $SENDERS_MX
customer.test ZONE
customer.test MX 10 mx.sender.test.
remote.test ZONE
remote.test MX 10 mx.remote.test.
mx.remote.test A $REMOTE_MX
ZONE
dns_start "$TMP/zone" "127.0.0.1,$HUB"
sink_start dest 2525 --host "$DEST"
sink_start senders 25 --host "$SENDERS_MX"
sink_start remote 25 --host "$REMOTE_MX"
python3 "$FAKESMTP" --host "$CA_HOST" --port "$CA_PORT" --mode ok \
	--log "$TMP/ca-server.log" >"$TMP/fakesmtp.out" 2>&1 &
register_pid "$!"

case $TOPOLOGY in
cluster)
	cluster_start 3 2	# two replicas each: after a failover the new primary still has one (wait_replicas)
	REDIS_GROUP="timeout = \"1s\"; wait_replicas = 1; cluster = { servers = [ \"${CLUSTER_SEEDS// /\", \"}\" ]; };"
	;;
sentinel)
	# A sentinel pings each instance once a second (more often only when
	# down-after is under 1 s): with down-after 1000 ms one late reply was
	# enough for a sentinel to call the just-promoted primary down too and
	# fail over a second time (seen under load), with the replica demoted
	# only ~10 s later. 3 s is three pings.
	SENTINEL_DOWN_AFTER_MS=3000
	sentinel_start
	redis_start replica2 --replicaof "$HUB" "$(redis_port primary)"
	wait_until 10 replica_synced replica2 || hard_error "the second replica did not sync"
	REDIS_GROUP="timeout = \"1s\"; wait_replicas = 1; sentinel = { master = \"$SENTINEL_MASTER\"; servers = [ \"${SENTINEL_ADDRS// /\", \"}\" ]; };"
	;;
*) hard_error "TOPOLOGY: cluster or sentinel, not $TOPOLOGY" ;;
esac
# the outbound account of part 4: on a cluster, one whose slot is on the
# primary killed there (with relay.test's), so that its counts face the failover
FLOW=flow@customer.test
if [ "$TOPOLOGY" = cluster ]; then
	owner=$(cluster_slot_owner "$(cluster_keyslot "{relay.test}")")
	for ((i = 1; i < 100; i++)); do
		[ "$(cluster_slot_owner "$(cluster_keyslot "{acct:flow$i@customer.test}")")" = "$owner" ] &&
			{ FLOW=flow$i@customer.test; break; }
	done
	[ "$FLOW" != flow@customer.test ] || hard_error "no flowN@customer.test on relay.test's primary"
fi

# --- three nodes -------------------------------------------------------------------------

declare -A PPORT SPORT MPORT CONFS RELAY OUT POLPID MILPID
for n in "${NODES[@]}"; do
	PPORT[$n]=$(free_port) SPORT[$n]=$(free_port) MPORT[$n]=$(free_port)
	CONFS[$n]=$TMP/node$n.conf
	mhkit_conf_write "${CONFS[$n]}" --redis "$REDIS_GROUP" \
		"policyd = { listen = \"inet:127.0.0.1:${PPORT[$n]}\"; socketmap = \"inet:127.0.0.1:${SPORT[$n]}\"; };
milter = { listen = \"inet:127.0.0.1:${MPORT[$n]}\"; on_scanner_error = \"tempfail\"; };
node = { hostnames = [ \"relay$n.mhkit.test\" ]; };
callahead = { helo = \"relay$n.mhkit.test\"; };
dns = { servers = [ \"$HUB@53\" ]; timeout = \"2s\"; };"
done
# mhlist NODE ARGS... - mhlist run on node NODE, with its configuration
mhlist() { local n=$1; shift; netns_exec "n$n" "$MHLIST" -c "${CONFS[$n]}" "$@"; }
mh() { mhlist 1 "$@" >/dev/null || fail "mhlist $*"; }
mh domain add relay.test --service relay --dest "$DEST" --port 2525 \
	--callahead off --spam off --virus off --spf off --userlist on
mh users add relay.test bob
mh domain add ca.test --service relay --dest "$CA_HOST" --port "$CA_PORT" \
	--callahead on --spam off --virus off --spf off --userlist off
mh account add quota@customer.test --blocks 1
mh account add "$FLOW" --blocks 100

for n in "${NODES[@]}"; do
	start_bg "policyd$n" ip netns exec "$(netns_ns "n$n")" "$POLICYD" -c "${CONFS[$n]}" -f
	POLPID[$n]=$BG_PID
	start_bg "milter$n" ip netns exec "$(netns_ns "n$n")" "$MILTER" -c "${CONFS[$n]}" -f
	MILPID[$n]=$BG_PID
done
for n in "${NODES[@]}"; do
	wait_until 15 grep -q "ready" "$TMP/policyd$n.log" || hard_error "mhpolicyd $n: $(tail -n 3 "$TMP/policyd$n.log")"
	wait_until 15 grep -q "ready" "$TMP/milter$n.log" || hard_error "mhmilter $n: $(tail -n 3 "$TMP/milter$n.log")"
	postfix_start "relay$n" --role relay --netns "n$n" --addr "198.51.100.2$n" \
		--subst "inet:127.0.0.1:10027=inet:127.0.0.1:${PPORT[$n]}" \
		--subst "inet:127.0.0.1:10028=inet:127.0.0.1:${MPORT[$n]}" \
		--subst "inet:127.0.0.1:10029=inet:127.0.0.1:${SPORT[$n]}" \
		--master 'local unix - n n - - local' 'alias_maps = inline:{ postmaster=root, root=/dev/null }' \
		"myhostname = relay$n.mhkit.test" 'default_transport = smtp' 'relay_transport = relay'
	RELAY[$n]=$(postfix_port "relay$n" 25)
	postfix_start "out$n" --role outbound --netns "n$n" --addr "198.51.100.3$n" \
		--subst "inet:127.0.0.1:10027=inet:127.0.0.1:${PPORT[$n]}" \
		--master 'local unix - n n - - local' 'alias_maps = inline:{ postmaster=root, root=/dev/null }' \
		"myhostname = out$n.mhkit.test" 'mydestination = $myhostname, localhost' \
		'default_transport = smtp' 'relay_transport = relay' 'smtp_host_lookup = dns'
	OUT[$n]=$(postfix_port "out$n" 465)
	postfix_sasl_user "out$n" quota@customer.test "$PW"
	postfix_sasl_user "out$n" "$FLOW" "$PW"
done
pass "three nodes up: relay Postfix, outbound Postfix, mhpolicyd, mhmilter each ($TOPOLOGY)"
# each node's four programs share one network namespace, the node's: not the test's, not another node's
nsof() { readlink "/proc/$1/ns/net"; }
seen=" $(nsof $$) "
for n in "${NODES[@]}"; do
	ns=$(nsof "${POLPID[$n]}")
	check_that "node $n: mhpolicyd, mhmilter and both Postfix masters in one namespace of the node's own ($ns)" \
		'[ -n "$ns" ] && [ "$(nsof "${MILPID[$n]}")" = "$ns" ] && [ "$(nsof "$(postfix_pid "relay$n")")" = "$ns" ] &&
		[ "$(nsof "$(postfix_pid "out$n")")" = "$ns" ] && [ "${seen/ $ns /}" = "$seen" ]'
	seen+="$ns "
done

# the relay path works on every node before anything else
for n in "${NODES[@]}"; do
	send_mail "198.51.100.2$n:${RELAY[$n]}" "alice@sender.test" "bob@relay.test" --local-interface "$CLIENT" \
		--header "Message-ID: <first-$n@three.test>"
	assert_match "$(smtp_data_reply)" '^250 ' "node $n: relay.test mail accepted"
done
wait_until 30 eval '[ "$(grep -l "first-[123]@three.test" "$(sink_dir dest)"/msg/*.eml 2>/dev/null | wc -l)" = 3 ]'
assert_eq "$(grep -l 'first-[123]@three.test' "$(sink_dir dest)"/msg/*.eml 2>/dev/null | wc -l)" 3 \
	"every node delivered to relay.test's server"

# --- 1. a domain added on node 1, relayed by node 3 at once -------------------------------

send_mail "198.51.100.23:${RELAY[3]}" "alice@sender.test" "carol@new.test" --local-interface "$CLIENT" \
	--header "Message-ID: <before@three.test>"
assert_match "$(smtp_rcpt_reply carol@new.test)" '^5' "new.test before mhlist: refused by node 3"
t0=$(now_ms)
mhlist 1 domain add new.test --service relay --dest "$DEST" --port 2525 \
	--callahead off --spam off --virus off --spf off --userlist off >/dev/null
t1=$(now_ms)
# (node 3's socketmap listens on node 3's own loopback)
sm3=$(netns_exec n3 bash -c "$(declare -f socketmap_query); socketmap_query \"\$@\"" _ "${SPORT[3]}" relay_domains new.test)
t_sm=$(now_ms)
assert_eq "$sm3" "OK new.test" "node 3's socketmap answers new.test right after mhlist on node 1"
check_that "node 3 knew new.test within 1 s of the add ($((t_sm - t1)) ms)" '[ $((t_sm - t1)) -lt 1000 ]'
# (another sender: smtpd caches the resolution of a sender and recipient
# pair, a refused one included, for the life of the process)
send_mail "198.51.100.23:${RELAY[3]}" "alice2@sender.test" "carol@new.test" --local-interface "$CLIENT" \
	--header "Message-ID: <after@three.test>"
t2=$(now_ms)
assert_match "$(smtp_data_reply)" '^250 ' "new.test, right after mhlist on node 1: accepted by node 3 (no reload)"
echo "# domain add on node 1 -> node 3's socketmap OK: $((t_sm - t1)) ms; -> node 3's 250 after DATA: $((t2 - t1)) ms (mhlist itself took $((t1 - t0)) ms)"

# --- 2. one call-ahead per address across the nodes ------------------------------------

# rcpt_only NODE N ADDRESS - N sessions through NODE's relay at once, each
#   to RCPT TO:<ADDRESS> and QUIT; the replies to RCPT in $TMP/ca-NODE-K.out
rcpt_burst() {
	local addr=$1 n k pids=()
	for n in "${NODES[@]}"; do
		for k in 1 2 3 4; do
			swaks --server "198.51.100.2$n" --port "${RELAY[$n]}" --local-interface "$CLIENT" \
				--from alice@sender.test --to "$addr" --helo client.test --quit-after RCPT \
				--timeout 30 >"$TMP/ca-$n-$k.out" 2>&1 &
			pids+=("$!")
		done
	done
	for k in "${pids[@]}"; do wait "$k"; done
}
# rcpt_replies ADDRESS - the first line of each session's reply to RCPT, counted
rcpt_replies() {
	local f
	for f in "$TMP"/ca-*.out; do
		awk -v a="RCPT TO:<$1>" 'found && /^<[-*~ ]+ / { sub(/^<[-*~ ]+ +/, ""); print substr($0, 1, 3); exit }
			index($0, a) { found = 1 }' "$f"
	done | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }'
}
probes() { grep -c "RCPT TO:<$1>" "$TMP/ca-server.log"; }
rcpt_burst new1@ca.test
assert_eq "$(rcpt_replies new1@ca.test)" "250 x12 " "call-ahead: 12 sessions over 3 nodes at once for a new address: all 250"
assert_eq "$(probes new1@ca.test)" 1 "call-ahead: the customer's server saw one probe for it (single flight across nodes)"
rcpt_burst unknown1@ca.test
assert_eq "$(rcpt_replies unknown1@ca.test)" "550 x12 " "call-ahead: an address the server refuses: 550 on every node"
assert_eq "$(probes unknown1@ca.test)" 1 "call-ahead: one probe for it too"

# --- 3. the quota, exact across nodes ----------------------------------------------------

# out_load NAME NODE USER RATE SECONDS CONCURRENCY - outbound messages (SMTPS, AUTH) through NODE
out_load() {
	python3 "$LOADPY" load --host "198.51.100.3$2" --port "${OUT[$2]}" --smtps --auth "$3:$PW" \
		--mail-from "$3" --rcpt bob@remote.test --fault "$1" --rate "$4" --seconds "$5" \
		--concurrency "$6" --timeout 20 --out "$TMP/results-$1" >"$TMP/load-$1.txt" 2>&1
}
# relay_load NAME NODE RATE SECONDS - relay messages to bob@relay.test through NODE
relay_load() {
	python3 "$LOADPY" load --host "198.51.100.2$2" --port "${RELAY[$2]}" --src "$CLIENT" \
		--mail-from 'alice-{seq}-{fault}@sender.test' --rcpt bob@relay.test --fault "$1" \
		--rate "$3" --seconds "$4" --concurrency 10 --timeout 20 --out "$TMP/results-$1" >"$TMP/load-$1.txt" 2>&1
}
tally() {	# tally NAME SINK - mailload.py's row for NAME: sent accepted delivered lost dup 4xx 5xx err unsent extra
	python3 "$LOADPY" tally --fault "$1" --sink "$(sink_dir "$2")" --results "$TMP/results-$1" |
		awk -F'\t' '$1 == "row" { print $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }'
}
used() {	# used USER - today's counter (0 when none), through node 1's mhlist
	mhlist 1 --json account show "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["used_today"])'
}
pids=()
out_load q1 1 quota@customer.test 30 5 5 & pids+=("$!")
out_load q2 2 quota@customer.test 30 5 5 & pids+=("$!")
out_load q3 3 quota@customer.test 30 5 6 & pids+=("$!")
for p in "${pids[@]}"; do wait "$p"; done
acc=0
for q in q1 q2 q3; do acc=$((acc + $(awk -F'\t' '$3 == "accepted"' "$TMP/results-$q" | wc -l))); done
sent=$(cat "$TMP"/results-q[123] | wc -l)
wait_until 60 eval '[ "$(for q in q1 q2 q3; do tally $q remote; done | awk "{ d += \$3 } END { print d }")" -ge "$acc" ]'
del=$(for q in q1 q2 q3; do tally $q remote; done | awk '{ d += $3 } END { print d }')
echo "# quota: $sent messages from 16 senders over 3 nodes, $acc accepted, $del delivered, counter $(used quota@customer.test)"
assert_eq "$acc" 150 "quota: exactly the limit accepted over three nodes (150 of $sent)"
assert_eq "$(used quota@customer.test)" 150 "quota: the counter is the limit"
assert_eq "$del" 150 "quota: 150 arrived at the recipients' server"

# --- 4. the Redis primary killed while mail flows through every node -------------------

case $TOPOLOGY in
cluster) victim=$(cluster_slot_owner "$(cluster_keyslot "{relay.test}")") ;;
sentinel) victim=$(redis_name_of_port "$(sentinel_primary_port)") ;;
esac
flow0=$(used "$FLOW")
pids=()
for n in "${NODES[@]}"; do
	relay_load "fr$n" "$n" 8 15 & pids+=("$!")
	out_load "fo$n" "$n" "$FLOW" 4 15 4 & pids+=("$!")
done
sleep 4
t_kill=$(now_ms)
redis_kill "$victim"
echo "# killed $victim (the primary) at +4 s"
for p in "${pids[@]}"; do wait "$p"; done
# last4xx - epoch ms of the end of the last session refused with 4xx, over every load
last4xx() {
	cat "$TMP"/results-fr[123] "$TMP"/results-fo[123] |
		awk -F'\t' '$3 == "4xx" { e = $7 + $8; if (e > m) m = e } END { printf "%.0f\n", m }'
}
first4xx() {
	cat "$TMP"/results-fr[123] "$TMP"/results-fo[123] |
		awk -F'\t' '$3 == "4xx" { if (!m || $7 < m) m = $7 } END { printf "%.0f\n", m }'
}
accepted_of() { cat "$@" | awk -F'\t' '$3 == "accepted"' | wc -l; }
racc=$(accepted_of "$TMP"/results-fr[123])
oacc=$(accepted_of "$TMP"/results-fo[123])
wait_until 90 eval '[ "$(for f in fr1 fr2 fr3; do tally $f dest; done | awk "{ d += \$3 } END { print d }")" -ge "$racc" ] &&
	[ "$(for f in fo1 fo2 fo3; do tally $f remote; done | awk "{ d += \$3 } END { print d }")" -ge "$oacc" ]'
for f in fr1 fr2 fr3 fo1 fo2 fo3; do
	[ "${f:1:1}" = r ] && sink=dest || sink=remote
	read -r sent acc del lost dup n4 n5 nerr unsent extra <<<"$(tally "$f" "$sink")"
	echo "# $f: sent $sent accepted $acc delivered $del lost $lost dup $dup 4xx $n4 5xx $n5 err $nerr"
	check_that "failover, $f: nothing lost ($lost), nothing twice ($dup), nothing refused delivered ($extra), no 5xx ($n5)" \
		'[ "$lost" = 0 ] && [ "$dup" = 0 ] && [ "$extra" = 0 ] && [ "$n5" = 0 ]'
	check_that "failover, $f: mail flowed ($acc of $sent accepted)" '[ "$acc" -gt 0 ]'
done
odel=$(for f in fo1 fo2 fo3; do tally $f remote; done | awk '{ d += $3 } END { print d }')
assert_eq "$(( $(used "$FLOW") - flow0 ))" "$odel" \
	"failover: the outbound counter grew by exactly what arrived ($odel; no overshoot, nothing counted twice)"
f4=$(first4xx) l4=$(last4xx)
if [ "$l4" -gt 0 ]; then
	echo "# failover: 4xx from $((f4 - t_kill)) ms to $((l4 - t_kill)) ms after the kill"
	check_that "failover: 4xx only around the failover (the last $((l4 - t_kill)) ms after the kill, within 20 s)" \
		'[ $((f4 - t_kill)) -ge -1000 ] && [ $((l4 - t_kill)) -lt 20000 ]'
else
	echo "# failover: no 4xx at all"
fi
for n in "${NODES[@]}"; do
	check_that "node $n: mhpolicyd and mhmilter still run" 'pid_alive "${POLPID[$n]}" && pid_alive "${MILPID[$n]}"'
done

done_testing
