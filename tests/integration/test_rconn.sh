#!/bin/bash
# test_rconn.sh - common/rconn.c against real redis-server and Sentinel:
# TCP, unix socket, AUTH (password and ACL user), SELECT, pipelining,
# Redis down, command timeout, Redis restarted under a running program,
# Sentinel discovery and failover.  Drives tests/integration/rconn_probe.

here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"

PROBE=${RCONN_PROBE:-$here/rconn_probe}
[ -x "$PROBE" ] || hard_error "rconn_probe not built: $PROBE"

CONF=$TMP/mhkit.conf

# probe ARGS... - the probe with the test config
probe() {
	"$PROBE" -c "$CONF" "$@"
}

# no_crash NAME - the last run ended by itself, not by a signal
no_crash() {
	if [ "$T_RC" -lt 128 ]; then pass "$1: no crash"; else fail "$1: no crash" "exit status $T_RC"; fi
}

# follows LOG PORT - the probe's last address line names PORT and a command succeeded after it
follows() {
	awk -v want="-> 127.0.0.1:$2" '
		/^address: / { ok = (index($0, want) > 0); seen = 0; next }
		ok && / ok / { seen = 1 }
		END { exit !(ok && seen) }' "$1"
}

# count_ok LOG - number of successful commands in LOG
count_ok() {
	grep -c '^#[0-9.]* t=[0-9]* ok ' "$1"
}

# has_ok LOG N - at least N commands succeeded in LOG
has_ok() {
	[ "$(count_ok "$1")" -ge "$2" ]
}

# probe_done PID - the background probe has exited
probe_done() {
	! pid_alive "$1"
}

# --- TCP, unix socket, db, pipeline ---------------------------------------------

redis_start main
MAIN_PORT=$REDIS_PORT
MAIN_SOCK=$REDIS_SOCK
mhkit_conf_write "$CONF"

assert_exit 0 probe PING
assert_contains "$T_OUT" "#1 t=" "tcp: one result line"
assert_contains "$T_OUT" "ok PONG" "tcp: PING answered"
assert_contains "$T_OUT" "address: 127.0.0.1:$MAIN_PORT" "tcp: address"

mhkit_conf_write "$TMP/unix.conf" --redis "unix = \"$MAIN_SOCK\";"
assert_exit 0 "$PROBE" -c "$TMP/unix.conf" SET sockkey viasocket
assert_contains "$T_OUT" "address: unix:$MAIN_SOCK" "unix: address"
assert_eq viasocket "$(redis_cli main GET sockkey)" "unix: key written through the socket"

mhkit_conf_write "$TMP/db.conf" --redis 'db = 3;'
assert_exit 0 "$PROBE" -c "$TMP/db.conf" SET dbkey three
assert_eq three "$(redis_cli main -n 3 GET dbkey)" "db: key written through db 3 is in db 3"
assert_eq "" "$(redis_cli main -n 0 GET dbkey)" "db: and not in db 0"

assert_exit 0 probe --pipeline SET pl 1 \; INCR pl \; GET pl \; NOSUCHCOMMAND
assert_contains "$T_OUT" "#1.1 t=" "pipeline: first reply tagged"
assert_match "$T_OUT" '^#1\.2 t=[0-9]+ ok \(integer\) 2$' "pipeline: INCR reply in order"
assert_match "$T_OUT" '^#1\.3 t=[0-9]+ ok 2$' "pipeline: GET reply in order"
assert_match "$T_OUT" '^#1\.4 t=[0-9]+ ok \(error\) ERR unknown command' "pipeline: an error reply is a reply"

# --- AUTH ------------------------------------------------------------------------

redis_start auth --requirepass s3cret
AUTH_PORT=$REDIS_PORT
mhkit_conf_write "$TMP/auth.conf" --redis 'password = "s3cret";'
assert_exit 0 "$PROBE" -c "$TMP/auth.conf" PING
assert_contains "$T_OUT" "ok PONG" "password: right password"

mhkit_conf_write "$TMP/wrongpw.conf" --redis 'password = "wrong";'
assert_exit 1 "$PROBE" -c "$TMP/wrongpw.conf" PING
assert_contains "$T_OUT" "error: 127.0.0.1:$AUTH_PORT: AUTH failed: WRONGPASS" "password: wrong password named with the address"
no_crash "password wrong"

assert_exit 0 "$PROBE" --port "$AUTH_PORT" GET x
assert_contains "$T_OUT" "ok (error) NOAUTH" "password: none given: Redis's NOAUTH is returned as a reply"

redis_cli auth -a s3cret --no-auth-warning ACL SETUSER alice on '>alicepw' '~*' '+@all' >/dev/null
mhkit_conf_write "$TMP/acl.conf" --redis 'user = "alice"; password = "alicepw";'
assert_exit 0 "$PROBE" -c "$TMP/acl.conf" ACL WHOAMI
assert_contains "$T_OUT" "ok alice" "acl: logged in as alice"
assert_exit 1 "$PROBE" -c "$TMP/acl.conf" --password nope PING
assert_contains "$T_OUT" "127.0.0.1:$AUTH_PORT: AUTH failed: WRONGPASS" "acl: wrong password"
redis_stop auth

# --- backend down, timeout ---------------------------------------------------------

DEAD_PORT=$(free_port)
assert_exit 1 "$PROBE" --port "$DEAD_PORT" --count 3 --interval 40 PING
no_crash "down"
assert_contains "$T_OUT" "#1 t=" "down: first attempt reported"
assert_contains "$T_OUT" "error: 127.0.0.1:$DEAD_PORT: Connection refused" "down: error names the address"
assert_contains "$T_OUT" "error: 127.0.0.1:$DEAD_PORT: backend unavailable, next attempt in" "down: backoff refuses at once"
assert_contains "$T_OUT" "summary: ok=0 failed=3" "down: every attempt failed"

assert_exit 1 "$PROBE" --unix "$TMP/no-such.sock" PING
assert_contains "$T_OUT" "error: unix:$TMP/no-such.sock: " "down: unix socket error names the path"

mhkit_conf_write "$TMP/timeout.conf" --instance main --redis 'timeout = "300ms";'
assert_exit 1 "$PROBE" -c "$TMP/timeout.conf" --count 2 --interval 0 BLPOP nosuchlist 5
assert_contains "$T_OUT" "error: 127.0.0.1:$MAIN_PORT: timeout after 300 ms" "timeout: a slow command fails after redis.timeout"
assert_contains "$T_ERR" "redis 127.0.0.1:$MAIN_PORT: connection lost: timeout after 300 ms" "timeout: connection dropped and logged"
assert_contains "$T_OUT" "summary: ok=0 failed=2 reconnects=1" "timeout: the next command reconnects"

# --- restart under a running program ------------------------------------------------

for how in stop kill; do
	start_bg "restart-$how" "$PROBE" -c "$CONF" --count 60 --interval 100 INCR restarts
	probe_pid=$BG_PID
	log=$TMP/restart-$how.log
	wait_until 5 has_ok "$log" 3 || fail "restart $how: probe did not start"
	if [ "$how" = stop ]; then redis_restart main; else redis_kill main; redis_restart main; fi
	back=$(now_ms)
	wait_until 15 probe_done "$probe_pid"
	stop_pid "$probe_pid"
	out=$(cat "$log")
	assert_match "$out" "error: 127.0.0.1:$MAIN_PORT: " "restart $how: the program saw Redis go"
	first_ok=$(awk '/ error: / { e = 1; next } e && / ok / { sub(/^t=/, "", $2); print $2; exit }' "$log")
	if [ -n "$first_ok" ] && [ "$first_ok" -le $((back + 1000)) ]; then
		pass "restart $how: commands succeed again by themselves ($((first_ok - back)) ms after Redis is back)"
	else
		fail "restart $how: commands succeed again within 1 s" "Redis back at $back" "first ok after errors at: ${first_ok:-never}" "$out"
	fi
	assert_eq 0 "$(awk '/ error: / { e = 1 } e && / ok / { s = 1 } s && / error: / { n++ } END { print n + 0 }' "$log")" \
		"restart $how: no error after the first success"
	assert_match "$out" '^summary: .* reconnects=1 ' "restart $how: one reconnect counted"
	assert_eq 1 "$(grep -c 'connection lost' "$log")" "restart $how: 'connection lost' logged once"
	assert_eq 1 "$(grep -c 'reconnected' "$log")" "restart $how: 'reconnected' logged once"
done

# --- valgrind -------------------------------------------------------------------------

if [ "${SANITIZERS:-no}" = yes ]; then
	echo "# built with sanitizers: valgrind checks skipped (ASan runs instead)"
elif command -v valgrind >/dev/null 2>&1; then
	run valgrind -q --error-exitcode=99 --leak-check=full "$PROBE" -c "$CONF" --db 2 --count 2 --interval 10 \
		--pipeline SET v 1 \; INCR v \; HGETALL nosuch \; NOSUCHCOMMAND
	assert_eq 0 "$T_RC" "valgrind: clean with pipelining and SELECT"
	[ "$T_RC" = 0 ] || echo "$T_ERR" | sed 's/^/#   /'
	run valgrind -q --error-exitcode=99 --leak-check=full "$PROBE" --port "$DEAD_PORT" --count 3 --interval 60 PING
	assert_eq 1 "$T_RC" "valgrind: clean with Redis down"
	run valgrind -q --error-exitcode=99 --leak-check=full "$PROBE" -c "$CONF" --timeout-ms 200 --count 2 --interval 0 BLPOP nosuchlist 2
	assert_eq 1 "$T_RC" "valgrind: clean with a timeout and a reconnect"
else
	echo "# valgrind not installed: leak checks skipped"
fi
redis_stop main

# --- Sentinel ----------------------------------------------------------------------------

sentinel_start
PRIMARY=$(redis_port primary)
REPLICA=$(redis_port replica)
servers=$(printf '"%s", ' $SENTINEL_ADDRS)
mhkit_conf_write "$CONF" --redis "sentinel = { master = \"mymaster\"; servers = [ ${servers%, } ]; };"

assert_exit 0 probe SET where primary
assert_contains "$T_OUT" "address: sentinel mymaster -> 127.0.0.1:$PRIMARY" "sentinel: primary discovered"
assert_eq primary "$(redis_cli primary GET where)" "sentinel: write went to the primary"

assert_exit 1 probe --sentinel-master nosuch --sentinel "${SENTINEL_ADDRS%% *}" PING
assert_contains "$T_OUT" "error: sentinel nosuch: no primary found: ${SENTINEL_ADDRS%% *}: does not know master nosuch" \
	"sentinel: unknown master name is an error naming the sentinel"

assert_exit 1 probe --sentinel-master mymaster --sentinel "127.0.0.1:$DEAD_PORT" PING
assert_contains "$T_OUT" "error: sentinel mymaster: no primary found: 127.0.0.1:$DEAD_PORT: Connection refused" \
	"sentinel: all sentinels down"

assert_exit 0 probe --sentinel-master mymaster --sentinel "127.0.0.1:$DEAD_PORT" --sentinel "${SENTINEL_ADDRS##* }" PING
assert_contains "$T_OUT" "address: sentinel mymaster -> 127.0.0.1:$PRIMARY" "sentinel: a dead sentinel is skipped, the next one answers"

start_bg failover "$PROBE" -c "$CONF" --count 600 --interval 100 INCR failovers
fo_pid=$BG_PID
wait_until 10 follows "$TMP/failover.log" "$PRIMARY" || fail "failover: probe did not start"
NEW=$(sentinel_failover)
assert_eq "$REPLICA" "$NEW" "failover: sentinels promoted the replica"
if wait_until 30 follows "$TMP/failover.log" "$NEW"; then
	pass "failover: program follows SENTINEL failover to 127.0.0.1:$NEW"
else
	fail "failover: program follows SENTINEL failover to 127.0.0.1:$NEW" "$(tail -n 20 "$TMP/failover.log")"
fi

# now crash the new primary: the old one (now a replica) must take over
wait_until 15 replica_synced primary || echo "# old primary not yet re-synced as a replica"
redis_kill "$(redis_name_of_port "$NEW")"
if wait_until 40 follows "$TMP/failover.log" "$PRIMARY"; then
	pass "failover: program follows to 127.0.0.1:$PRIMARY after the primary was killed"
else
	fail "failover: program follows to 127.0.0.1:$PRIMARY after the primary was killed" "$(tail -n 20 "$TMP/failover.log")"
fi
stop_pid "$fo_pid"
assert_contains "$(cat "$TMP/failover.log")" "primary changed 127.0.0.1:$PRIMARY -> 127.0.0.1:$NEW" "failover: failover logged"
assert_eq 0 "$(grep -c 'panic\|fatal\|Segmentation' "$TMP/failover.log")" "failover: no crash"

done_testing
