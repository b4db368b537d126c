#!/bin/bash
# test_policyd_sentinel.sh - mhpolicyd under Redis Sentinel, on real
# redis-server and redis-sentinel (primary, replica, three sentinels),
# without Postfix: the primary is found past a dead sentinel and a silent
# one (accepts, never answers); while it is being found every request is
# answered at once with on_backend_error (451 / TEMP), never held for
# redis.timeout; after SENTINEL FAILOVER answers are normal again within
# seconds and come from the new primary, with the local cache dropped (a
# change made on the new primary is seen by the very next answer); with no
# sentinel reachable every request is deferred at once and the log says
# "no primary found"; SIGTERM exits 0.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
need_cmd /usr/bin/python3

POLICYD=${MHPOLICYD:?}
MHLIST=${MHLIST:?}
NODE=relay1.mhkit.test
D=relay.test
RCPT=bob@$D
DUNNO="action=DUNNO"
DEFER="action=451 4.3.0 Temporary lookup failure"
SM_OK="OK $D"
SM_TEMP="TEMP Redis unavailable"
route() { echo "OK smtp:[mx.customer.test]:$1"; }

sentinel_start
PRIMARY=$(redis_port primary)
REPLICA=$(redis_port replica)
DEAD=$(free_port)		# nothing listens there: connection refused
SILENT=$(free_port)		# accepts and never answers
DEAD_DNS=$(free_port)
REAL=()
for a in $SENTINEL_ADDRS; do REAL+=("$a"); done

# the silent sentinel: accepts connections, holds them, never reads or writes
start_bg silent /usr/bin/python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
held = []
while True:
    c, a = s.accept()
    held.append(c)
    print("accepted %s:%d" % a, flush=True)
' "$SILENT"
SILENT_PID=$BG_PID
wait_until 5 port_in_use "$SILENT" || hard_error "silent sentinel did not start"
silent_accepted() { grep -c '^accepted' "$TMP/silent.log"; }

# redis_group SENTINEL... - the redis settings: these sentinels, redis.timeout 1 s
redis_group() {
	local list
	list=$(printf '"%s", ' "$@")
	printf 'redis = {\n  timeout = "1s";\n  sentinel = { master = "mymaster"; servers = [ %s ]; };\n};\n' "${list%, }"
}
# mhlist's config: the real sentinels only
MLCONF=$TMP/mhlist.conf
mhkit_conf_write "$MLCONF" --no-redis "$(redis_group "${REAL[@]}")"
mh() {	# mh ARGS... - mhlist through Sentinel; a failure is a failed check
	"$MHLIST" -c "$MLCONF" "$@" >/dev/null 2>"$TMP/mh.err" || fail "mhlist $*" "$(cat "$TMP/mh.err")"
}

# write_pconf NAME SENTINEL... - $TMP/NAME.conf for mhpolicyd on fresh ports; sets PPORT SPORT
write_pconf() {
	local name=$1
	shift
	PPORT=$(free_port)
	SPORT=$(free_port)
	mhkit_conf_write "$TMP/$name.conf" --no-redis "$(redis_group "$@")
policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; };
node = { hostnames = [\"$NODE\"]; };
dns = { servers = [\"127.0.0.1@$DEAD_DNS\"]; timeout = \"300ms\"; };"
}
# policyd_start NAME - start mhpolicyd -v with $TMP/NAME.conf, log in $TMP/NAME.log; sets PID LOG
policyd_start() {
	start_bg "$1" "$POLICYD" -c "$TMP/$1.conf" -f -v
	PID=$BG_PID
	LOG=$TMP/$1.log
	wait_until 10 grep -q "ready: " "$LOG" || hard_error "mhpolicyd $1 did not start: $(redis_log | tail -n 5)"
}
# policyd_term NAME - SIGTERM, wait (12 s at most); asserts exit status 0
policyd_term() {
	local rc
	kill -TERM "$PID"
	if wait_until 12 eval '! pid_alive '"$PID"; then
		wait "$PID"
		rc=$?
		unregister_pid "$PID"
		assert_eq 0 "$rc" "$1: SIGTERM: mhpolicyd exits 0"
	else
		fail "$1: SIGTERM: mhpolicyd exits within 12 s" "$(redis_log | tail -n 5)"
		stop_pid "$PID" KILL
	fi
}

# --- talking to mhpolicyd (bash /dev/tcp: no process per request) ----------------
# pol [RCPT] - one policy request on a new connection; prints the action line
pol() {
	local line= blank
	exec 3<>"/dev/tcp/127.0.0.1/$PPORT" || { echo "connect failed"; return 0; }
	printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=192.0.2.1\nclient_name=unknown\nhelo_name=client.test\nsender=a@sender.test\nrecipient=%s\nqueue_id=TESTQ\n\n' \
		"${1:-$RCPT}" >&3
	IFS= read -r -t 3 line <&3 && IFS= read -r -t 1 blank <&3
	exec 3<&-
	printf '%s\n' "${line:-no answer}"
}
sm() { socketmap_query "$SPORT" "$@"; }	# sm MAP KEY - the payload of mhpolicyd's answer
# routed PORT - transport_maps answers the route with PORT
routed() {
	[ "$(sm transport_maps "$RCPT")" = "$(route "$1")" ]
}
# redis_log - mhpolicyd's log without the per-request lines
redis_log() {
	grep -v 'TESTQ\|socketmap:' "$LOG"
}
# normal - policy and both maps answer as for the relay domain (the route not checked)
normal() {
	[ "$(pol)" = "$DUNNO" ] && [ "$(sm relay_domains "$D")" = "$SM_OK" ] &&
		[ "$(sm transport_maps "$RCPT")" != "$SM_TEMP" ]
}

# burst SECONDS - for SECONDS, every 50 ms a policy request and a relay_domains
# query, each on its own connection, timed in one Python process; lines
# "T_MS pol|sm LATENCY_MS ANSWER" (T_MS since the burst began) in $TMP/burst.out
cat >"$TMP/burst.py" <<'EOF'
import socket, sys, time
host, pport, sport, secs, rcpt, dom = sys.argv[1:7]
req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
       "client_address=192.0.2.1\nclient_name=unknown\nhelo_name=client.test\n"
       "sender=a@sender.test\nrecipient=%s\nqueue_id=TESTQ\n\n" % rcpt).encode()
q = "relay_domains " + dom
nq = ("%d:%s," % (len(q), q)).encode()

def ask(port, data, done):
    t = time.time()
    try:
        s = socket.create_connection((host, int(port)), timeout=3)
        s.settimeout(3)
        s.sendall(data)
        out = b""
        while not done(out):
            b = s.recv(4096)
            if not b:
                break
            out += b
        s.close()
        ans = out.decode(errors="replace")
    except socket.timeout:
        ans = "TIMEOUT"
    except OSError as e:
        ans = "ERROR " + str(e)
    return (time.time() - t) * 1000, ans

def pol_done(b):
    return b.endswith(b"\n\n")

def sm_done(b):
    if b":" not in b:
        return False
    n, _, rest = b.partition(b":")
    return n.isdigit() and len(rest) > int(n)

t0 = time.time()
while time.time() - t0 < float(secs):
    t = (time.time() - t0) * 1000
    ms, a = ask(pport, req, pol_done)
    print("%d pol %.1f %s" % (t, ms, a.strip().split("\n")[0]), flush=True)
    ms, a = ask(sport, nq, sm_done)
    a = a.partition(":")[2].rstrip(",") if ":" in a and a[0].isdigit() else a
    print("%d sm %.1f %s" % (t, ms, a), flush=True)
    time.sleep(0.05)
EOF
burst() {
	/usr/bin/python3 "$TMP/burst.py" 127.0.0.1 "$PPORT" "$SPORT" "$1" "$RCPT" "$D" >"$TMP/burst.out" 2>&1
}
burst_max_ms() {	# the slowest answer, whole ms
	awk '{ if ($3 > m) m = $3 } END { printf "%d\n", m }' "$TMP/burst.out"
}
burst_count() {	# burst_count pol|sm ANSWER - answers exactly ANSWER
	awk -v k="$1" -v a="$2" '$2 == k { $1 = $2 = $3 = ""; sub(/^ +/, ""); if ($0 == a) n++ } END { print n + 0 }' "$TMP/burst.out"
}
burst_other() {	# burst_other - lines whose answer is neither the normal one nor the defer one
	awk -v d="$DUNNO" -v f="$DEFER" -v o="$SM_OK" -v t="$SM_TEMP" '
		{ k = $2; l = $0; $1 = $2 = $3 = ""; sub(/^ +/, "") }
		k == "pol" && ($0 == d || $0 == f) { next }
		k == "sm" && ($0 == o || $0 == t) { next }
		{ print l }' "$TMP/burst.out"
}
burst_first_normal_ms() {	# when the first normal policy answer was asked for
	awk -v d="$DUNNO" '$2 == "pol" { t = $1; $1 = $2 = $3 = ""; sub(/^ +/, ""); if ($0 == d) { print t; exit } }' "$TMP/burst.out"
}

# --- data, written through Sentinel -------------------------------------------------
mh domain add "$D" --service relay --dest mx.customer.test --port 2525 --callahead off
assert_eq 2525 "$(redis_cli primary HGET "mh:{$D}:cfg" port)" "mhlist through Sentinel wrote to the primary"
# a warm MX cache: this node is the primary (replicated to the replica)
redis_cli primary SET "mh:{$D}:mx" "10 $NODE" EX 3600 >/dev/null
wait_until 5 eval '[ "$(redis_cli replica GET "mh:{$D}:mx")" = "10 $NODE" ]' || hard_error "replica did not get the data"

# --- 1. dead, silent, then the real sentinels: the primary is found ------------------------
write_pconf p1 "127.0.0.1:$DEAD" "127.0.0.1:$SILENT" "${REAL[@]}"
t0=$(now_ms)
policyd_start p1
if wait_until 5 normal; then
	pass "dead + silent sentinel first: normal answers within 5 s ($(( $(now_ms) - t0 )) ms)"
else
	fail "dead + silent sentinel first: normal answers within 5 s" "policy: $(pol)" "relay_domains: $(sm relay_domains "$D")" "$(redis_log | tail -n 12)"
fi
assert_eq "$SM_OK" "$(sm relay_domains "$D")" "socketmap relay_domains: OK for the configured domain"
assert_eq "$(route 2525)" "$(sm transport_maps "$RCPT")" "socketmap transport_maps: route from the primary's data"
assert_eq "$DUNNO" "$(pol)" "policy request for the relay domain: DUNNO"
assert_contains "$(redis_log)" "redis sentinel mymaster -> 127.0.0.1:$PRIMARY: connected" "log: connected to the primary the sentinels name"
check "the silent sentinel was asked ($(silent_accepted) connections)" test "$(silent_accepted)" -ge 1
policyd_term p1

# --- 2. silent sentinel first: discovering never holds a request ------------------------
# listed twice: two redis.timeouts (2 s) of discovering, so that the burst
# sees some of it even when starting it takes a while on a loaded machine
write_pconf p2 "127.0.0.1:$SILENT" "127.0.0.1:$SILENT" "127.0.0.1:$DEAD" "${REAL[@]}"
before=$(silent_accepted)
policyd_start p2
burst 4
check "while discovering: every answer within 500 ms (slowest $(burst_max_ms) ms, redis.timeout 1 s)" \
	test "$(burst_max_ms)" -lt 500
other=$(burst_other)
assert_eq "" "$other" "while discovering: every answer is the defer reply or the normal one"
check "while discovering: policy answered with '$DEFER' ($(burst_count pol "$DEFER") times)" \
	test "$(burst_count pol "$DEFER")" -ge 1
check "while discovering: socketmap answered '$SM_TEMP' ($(burst_count sm "$SM_TEMP") times)" \
	test "$(burst_count sm "$SM_TEMP")" -ge 1
check "the silent sentinel was asked first ($(( $(silent_accepted) - before )) connections)" \
	test "$(silent_accepted)" -gt "$before"
first=$(burst_first_normal_ms)
check "discovery done past the silent sentinel: first normal answer at ${first:-never} ms (within 4 s)" \
	test -n "$first"
check "after discovery: the last answers are normal" \
	test "$(tail -n 2 "$TMP/burst.out" | awk '{ $1 = $2 = $3 = ""; sub(/^ +/, ""); print }' | tr '\n' '|')" = "$DUNNO|$SM_OK|"
[ -n "$other" ] || [ "$(burst_max_ms)" -lt 500 ] || cat "$TMP/burst.out" | sed 's/^/# /'
assert_eq "$DUNNO" "$(pol)" "after discovery: policy DUNNO"
assert_eq "$SM_OK" "$(sm relay_domains "$D")" "after discovery: relay_domains OK"

# --- 3. failover: the new primary, the cache dropped --------------------------------------
# warm the local cache with the route (port 2525)
assert_eq "$(route 2525)"$'\n'"$(route 2525)" "$(sm transport_maps "$RCPT"; sm transport_maps "$RCPT")" "before failover: route cached (asked twice)"
NEW=$(sentinel_failover)
assert_eq "$REPLICA" "$NEW" "failover: the sentinels promoted the replica"
# changed on the new primary at once, while the old one still answers reads
# (the sentinels demote it ~10 s later): mhpolicyd asks its sentinel every
# second and must move within a few seconds, not wait for the demotion; a
# copy kept from the old primary would stay stale (2525)
redis-cli -h 127.0.0.1 -p "$NEW" HSET "mh:{$D}:cfg" port 2626 >/dev/null
t0=$(now_ms)
if wait_until 4 routed 2626; then
	pass "failover: answers come from the new primary ($(( $(now_ms) - t0 )) ms after the sentinels named it)"
else
	fail "failover: answers come from the new primary within 4 s" "transport_maps: $(sm transport_maps "$RCPT")" \
		"expected: $(route 2626)" "$(redis_log | tail -n 12)"
fi
assert_eq "$DUNNO" "$(pol)" "failover: policy DUNNO"
assert_eq "$SM_OK" "$(sm relay_domains "$D")" "failover: relay_domains OK"
assert_contains "$(redis_log)" "redis sentinel mymaster: primary changed 127.0.0.1:$PRIMARY -> 127.0.0.1:$NEW" "failover: 'primary changed' logged"
assert_contains "$(redis_log)" "redis sentinel mymaster -> 127.0.0.1:$NEW: connected again" "failover: connected to the new primary"
assert_contains "$(redis_log)" "redis sentinel mymaster -> 127.0.0.1:$NEW: client-side caching on" "failover: client-side caching on again, on the new primary"
mh domain set "$D" --port 2727
assert_eq "$(route 2727)" "$(sm transport_maps "$RCPT")" "failover: mhlist (through Sentinel) change seen by the next answer"
# the old primary gone for good: answers can only come from the new one
redis_stop primary
redis-cli -h 127.0.0.1 -p "$NEW" HSET "mh:{$D}:cfg" port 2828 >/dev/null
assert_eq "$(route 2828)" "$(sm transport_maps "$RCPT")" "old primary stopped: the next answer follows a change on the new primary"
assert_eq "$DUNNO" "$(pol)" "old primary stopped: policy still DUNNO"
check "mhpolicyd never died" pid_alive "$PID"
policyd_term p2

# --- 4. no sentinel reachable ---------------------------------------------------------------
write_pconf p3 "127.0.0.1:$DEAD"
policyd_start p3
burst 2
check "no sentinel: every answer within 500 ms (slowest $(burst_max_ms) ms)" test "$(burst_max_ms)" -lt 500
n_pol=$(awk '$2 == "pol"' "$TMP/burst.out" | wc -l)
n_sm=$(awk '$2 == "sm"' "$TMP/burst.out" | wc -l)
check "no sentinel: every policy request deferred ($(burst_count pol "$DEFER") of $n_pol)" \
	test "$n_pol" -ge 5 -a "$(burst_count pol "$DEFER")" = "$n_pol"
check "no sentinel: every socketmap query TEMP ($(burst_count sm "$SM_TEMP") of $n_sm)" \
	test "$n_sm" -ge 5 -a "$(burst_count sm "$SM_TEMP")" = "$n_sm"
[ "$(burst_count pol "$DEFER")" = "$n_pol" ] || sed 's/^/# /' "$TMP/burst.out"
assert_contains "$(redis_log)" "redis sentinel mymaster: cannot connect: no primary found: 127.0.0.1:$DEAD: Connection refused" \
	"no sentinel: 'no primary found' logged, naming the sentinel"

# --- 5. stop ------------------------------------------------------------------------------
policyd_term p3
assert_contains "$(redis_log)" "stopped: " "SIGTERM: 'stopped' logged"
stop_pid "$SILENT_PID"
done_testing
