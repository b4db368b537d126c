#!/bin/bash
# test_policyd_cache.sh - mhpolicyd's local cache (client-side caching,
# doc/mhpolicyd.md "Local cache") against a real private Redis, without
# Postfix: warmed answers cost Redis nothing, and every change - made with
# mhlist or by hand in Redis - is seen by the very next request (no sleep
# in between): domain settings, user list, sender lists (domain and
# global), DNSBL and MX cache keys, a short-lived MX key that expires,
# FLUSHALL (an emptied Redis: TEMP, not NOTFOUND). Redis stopped: 451 at once, not a cached answer; back: normal
# answers and caching on again. An ACL user without CLIENT and
# policyd.cache_size = 0: no caching, still correct. SIGHUP: the next
# answer follows the new settings.
#
# The policy answer that shows a change: the test domain has the DNSBL zone
# bl.test, and Redis holds a cached "listed" answer for the client
# 192.0.2.25 (mh:{dnsbl:bl.test:192.0.2.25}), so a request goes all the way
# to the DNSBL step and gets the 554. A recipient not on the user list, a
# blacklisted or whitelisted sender or client all end the decision earlier
# with DUNNO (common/decide.c: mhmilter enforces the lists), so each list
# change flips the answer between 554 and DUNNO. DNS points at a dead port:
# whatever is not in Redis fails ("processed as configured" for MX, ignored
# for DNSBL).
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"

POLICYD=${MHPOLICYD:?}
MHLIST=${MHLIST:?}
NODE=relay1.mhkit.test
D=cache.test
IP=192.0.2.25
SENDER=a@sender.test

# appendonly: the data survives the Redis restart below
redis_start --appendonly yes --appendfsync always
PPORT=$(free_port)
SPORT=$(free_port)
DEAD_DNS=$(free_port)
CONF=$TMP/mhkit.conf		# mhlist's (default Redis user)
PCONF=$TMP/mhpolicyd.conf	# mhpolicyd's, rewritten per part
mhkit_conf_write "$CONF" ""
write_pconf() {	# write_pconf [--redis 'TEXT'] [EXTRA-POLICYD-SETTINGS] [NODE]
	local redis=()
	if [ "${1:-}" = --redis ]; then
		redis=(--redis "$2")
		shift 2
	fi
	mhkit_conf_write "$PCONF" "${redis[@]}" "policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; ${1:-} };
node = { hostnames = [\"${2:-$NODE}\"]; };
dns = { servers = [\"127.0.0.1@$DEAD_DNS\"]; timeout = \"300ms\"; };"
}

mh() {	# mh ARGS... - mhlist, quiet; a failure is a failed check
	"$MHLIST" -c "$CONF" "$@" >/dev/null 2>"$TMP/mh.err" || fail "mhlist $*" "$(cat "$TMP/mh.err")"
}
MX_KEY="mh:{$D}:mx"
BL_KEY="mh:{dnsbl:bl.test:$IP}"
populate() {	# the test domain, its MX cache (this node primary) and a cached DNSBL listing
	mh domain add "$D" --service relay --dest mx.customer.test --port 2525 --dnsbls bl.test --callahead off
	redis_cli redis SET "$MX_KEY" "10 $NODE" EX 3600 >/dev/null
	redis_cli redis SET "$BL_KEY" "listed Listed here" EX 3600 >/dev/null
}
populate

# --- talking to mhpolicyd (bash /dev/tcp: no process per request) ----------------
# pol [RCPT] [CLIENT] [SENDER] - one policy request on a new connection; prints the action line
pol() {
	local line= blank
	exec 3<>"/dev/tcp/127.0.0.1/$PPORT" || { echo "connect failed"; return 0; }
	printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=%s\nclient_name=unknown\nhelo_name=client.test\nsender=%s\nrecipient=%s\nqueue_id=TESTQ\n\n' \
		"${2:-$IP}" "${3:-$SENDER}" "${1:-bob@$D}" >&3
	IFS= read -r -t 3 line <&3 && IFS= read -r -t 1 blank <&3
	exec 3<&-
	printf '%s\n' "${line:-no answer}"
}
# pol_many N [RCPT] - N requests one after another on one connection; prints "COUNT ACTION" per distinct answer
pol_many() {
	local n=$1 rcpt=${2:-bob@$D} i line blank
	exec 3<>"/dev/tcp/127.0.0.1/$PPORT" || { echo "connect failed"; return 0; }
	for ((i = 0; i < n; i++)); do
		printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=%s\nclient_name=unknown\nhelo_name=client.test\nsender=%s\nrecipient=%s\nqueue_id=TESTQ\n\n' \
			"$IP" "$SENDER" "$rcpt" >&3
		line=
		IFS= read -r -t 3 line <&3 && IFS= read -r -t 1 blank <&3
		printf '%s\n' "${line:-no answer}"
	done | sort | uniq -c | sed 's/^ *//'
	exec 3<&-
}
sm() { socketmap_query "$SPORT" "$@"; }	# sm MAP KEY - the payload of mhpolicyd's answer
# warm EXPECTED NAME [pol ARGS] - ask twice (the copy is made), both answers must be EXPECTED
warm() {
	local want=$1 name=$2 a b
	shift 2
	a=$(pol "$@")
	b=$(pol "$@")
	assert_eq "$want"$'\n'"$want" "$a"$'\n'"$b" "$name: warmed (asked twice)"
}
# warm_sm EXPECTED NAME MAP KEY - the same for the socketmap
warm_sm() {
	local want=$1 name=$2 a b
	a=$(sm "$3" "$4")
	b=$(sm "$3" "$4")
	assert_eq "$want"$'\n'"$want" "$a"$'\n'"$b" "$name: warmed (asked twice)"
}

LISTED="action=554 5.7.1 Service unavailable; Client host [$IP] blocked using bl.test; Listed here"
DUNNO="action=DUNNO"
DEFER="action=451 4.3.0 Temporary lookup failure"
BACKUP550="action=550 5.7.1 $NODE is the highest-priority MX for $D; a backup MX cannot accept its mail"

# data_calls - Redis commands that read data (what a lookup costs), summed from INFO commandstats
data_calls() {
	redis_cli redis INFO commandstats | tr -d '\r' |
		awk -F'[:,=]' '$1 ~ /^cmdstat_(hgetall|get|pttl|sismember|smismember|exists|mget|hget)$/ {n += $3} END {print n + 0}'
}
# mhpolicyd's two Redis clients, from CLIENT LIST: the subscriber (sub=1) and the tracked one (flag t)
client_field() {	# client_field LINE NAME - one field of a CLIENT LIST line
	tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}
subscriber_ids() {	# ids of the clients subscribed to a channel
	redis_cli redis CLIENT LIST | tr -d '\r' | grep ' sub=1 ' | while read -r l; do client_field "$l" id; done
}
tracked_line() {	# the client whose flags contain t
	redis_cli redis CLIENT LIST | tr -d '\r' | grep -E ' flags=[A-Za-z]*t[A-Za-z]* '
}
log_count() {	# log_count FIXED-STRING - lines of mhpolicyd's log with it
	grep -cF -- "$1" "$TMP/mhpolicyd.log"
}
caching_on_count() { log_count "client-side caching on"; }
log_count_ge() {	# log_count_ge N STRING
	[ "$(log_count "$2")" -ge "$1" ]
}

start_policyd() {	# start_policyd - mhpolicyd -v on PCONF; waits until it answers
	start_bg mhpolicyd "$POLICYD" -c "$PCONF" -f -v
	PID=$BG_PID
	wait_until 10 grep -q "ready" "$TMP/mhpolicyd.log" || hard_error "mhpolicyd did not start: $(cat "$TMP/mhpolicyd.log")"
	wait_until 5 eval '[ "$(pol)" != "connect failed" ]' || hard_error "mhpolicyd does not answer"
}
stop_policyd() {
	stop_pid "$PID" TERM
	mv "$TMP/mhpolicyd.log" "$TMP/mhpolicyd.$(date +%s%N).log"
}

write_pconf
start_policyd
wait_until 5 log_count_ge 1 "client-side caching on" || fail "caching came on" "$(tail -n 5 "$TMP/mhpolicyd.log")"

# --- 1. tracking is on, and warmed requests cost Redis nothing ----------------------
subs=$(subscriber_ids)
assert_eq 1 "$(grep -c . <<<"$subs")" "CLIENT LIST: one client subscribed (sub=1)"
tl=$(tracked_line)
assert_eq 1 "$(grep -c . <<<"$tl")" "CLIENT LIST: one client with tracking on (flag t)"
assert_eq "${subs:-none}" "$(client_field "$tl" redir)" "the tracked client redirects its invalidations to the subscriber"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "client-side caching on (invalidations to client ${subs:-none})" "log: caching on, with the subscriber's id"

warm "$LISTED" "DNSBL listing cached in Redis: 554"
before=$(data_calls)
run pol_many 200
after=$(data_calls)
assert_eq "200 $LISTED" "$T_OUT" "200 requests on one connection: 200 times the same 554"
check "200 warmed requests: Redis read commands grew by $((after - before)) (< 10: served from the local copies)" \
	test $((after - before)) -lt 10

# --- 2. domain settings --------------------------------------------------------------
warm "$LISTED" "relay domain"
mh domain set "$D" --service backup
assert_eq "$BACKUP550" "$(pol)" "domain set --service backup (this node primary MX): next request 550"
warm "$BACKUP550" "backup domain"
mh domain set "$D" --service relay
assert_eq "$LISTED" "$(pol)" "domain set --service relay: next request back to the DNSBL 554"
warm "$LISTED" "DNSBL bl.test"
mh domain set "$D" --dnsbls other.test
assert_eq "$DUNNO" "$(pol)" "domain set --dnsbls other.test (not cached, DNS dead): next request DUNNO"
warm "$DUNNO" "DNSBL other.test"
mh domain set "$D" --dnsbls bl.test
assert_eq "$LISTED" "$(pol)" "domain set --dnsbls bl.test: next request 554 again"

# --- 2/3. user list -------------------------------------------------------------------
# a local part not on the list: DUNNO (mhmilter refuses it with 550 5.1.1; mhpolicyd skips the work)
mh users add "$D" bob
warm "$LISTED" "userlist off, carol" "carol@$D"
mh domain set "$D" --userlist on
assert_eq "$DUNNO" "$(pol "carol@$D")" "domain set --userlist on: next request for carol (not listed) DUNNO"
warm "$LISTED" "userlist on, bob (listed)" "bob@$D"
warm "$DUNNO" "userlist on, carol (not listed)" "carol@$D"
mh users add "$D" carol
assert_eq "$LISTED" "$(pol "carol@$D")" "users add carol: next request for carol goes on to the DNSBL (554)"
warm "$LISTED" "carol listed" "carol@$D"
mh users del "$D" carol
assert_eq "$DUNNO" "$(pol "carol@$D")" "users del carol: next request for carol DUNNO"
warm "$DUNNO" "carol unlisted again" "carol@$D"
mh domain set "$D" --userlist off
assert_eq "$LISTED" "$(pol "carol@$D")" "domain set --userlist off: next request for carol 554"

# --- 4. sender lists --------------------------------------------------------------------
list_flip() {	# list_flip white|black SCOPE ENTRY - add: next DUNNO; del: next 554
	warm "$LISTED" "before $1list $2 $3"
	mh "${1}list" add "$2" "$3"
	assert_eq "$DUNNO" "$(pol)" "${1}list add $2 $3: next request DUNNO"
	warm "$DUNNO" "${1}listed $2 $3"
	mh "${1}list" del "$2" "$3"
	assert_eq "$LISTED" "$(pol)" "${1}list del $2 $3: next request 554 again"
}
list_flip black "$D" "$SENDER"
list_flip white "$D" "$SENDER"
list_flip black --global @sender.test
list_flip white --global "$IP"
list_flip white --global 192.0.2.0/24

# the DNSBL cache key, changed by hand (as another node would)
warm "$LISTED" "DNSBL cache"
redis_cli redis SET "$BL_KEY" "listed Changed text" EX 3600 >/dev/null
assert_eq "action=554 5.7.1 Service unavailable; Client host [$IP] blocked using bl.test; Changed text" "$(pol)" \
	"DNSBL cache key rewritten: next request has the new text"
redis_cli redis SET "$BL_KEY" "clean" EX 3600 >/dev/null
assert_eq "$DUNNO" "$(pol)" "DNSBL cache key set to clean: next request DUNNO"
warm "$DUNNO" "DNSBL clean"
redis_cli redis SET "$BL_KEY" "listed Listed here" EX 3600 >/dev/null
assert_eq "$LISTED" "$(pol)" "DNSBL cache key listed again: next request 554"

# --- 5. socketmap ------------------------------------------------------------------------
warm_sm "NOTFOUND " "relay_domains new.test (not a domain yet)" relay_domains new.test
mh domain add new.test --service relay --dest mx.new.test --port 2525 --callahead off
assert_eq "OK new.test" "$(sm relay_domains new.test)" "domain add new.test: next relay_domains query OK"
warm_sm "OK smtp:[mx.customer.test]:2525" "transport_maps" transport_maps "bob@$D"
mh domain set "$D" --port 2526
assert_eq "OK smtp:[mx.customer.test]:2526" "$(sm transport_maps "bob@$D")" "domain set --port 2526: next transport_maps answer has the new port"
warm_sm "OK smtp:[mx.customer.test]:2526" "transport_maps port 2526" transport_maps "bob@$D"
mh domain set "$D" --dest mx2.customer.test
assert_eq "OK smtp:[mx2.customer.test]:2526" "$(sm transport_maps "bob@$D")" "domain set --dest: next transport_maps answer has the new host"
warm_sm "OK new.test" "relay_domains new.test" relay_domains new.test
mh domain del new.test
assert_eq "NOTFOUND " "$(sm relay_domains new.test)" "domain del new.test: next relay_domains query NOTFOUND"

# --- 6. MX cache ---------------------------------------------------------------------------
ROUTE="OK smtp:[mx2.customer.test]:2526"
warm_sm "$ROUTE" "MX cache: this node primary" transport_maps "bob@$D"
redis_cli redis SET "$MX_KEY" "10 other.example,20 $NODE" EX 3600 >/dev/null
assert_eq "OK smtp:" "$(sm transport_maps "bob@$D")" "MX cache rewritten (a more preferred MX): next transport_maps answer plain smtp:"
assert_eq "$DUNNO" "$(pol)" "MX cache rewritten: policy DUNNO (forwarded unprocessed, no DNSBL)"
warm_sm "OK smtp:" "MX cache: a more preferred MX" transport_maps "bob@$D"
redis_cli redis SET "$MX_KEY" "10 $NODE" EX 3600 >/dev/null
assert_eq "$ROUTE" "$(sm transport_maps "bob@$D")" "MX cache back (this node primary): next answer smtp:[dest]:port"
# a key with a short TTL: the copy does not outlive it
redis_cli redis SET "$MX_KEY" "10 other.example,20 $NODE" PX 1500 >/dev/null
warm_sm "OK smtp:" "MX cache key with PX 1500" transport_maps "bob@$D"
assert_eq "$DUNNO" "$(pol)" "MX cache key with PX 1500: policy DUNNO"
sleep 2
# expired: DNS (dead) fails -> "processed as configured" -> the relay route, the DNSBL applies
assert_eq "$ROUTE" "$(sm transport_maps "bob@$D")" "MX cache key expired: next answer not the stale copy (DNS fails: the configured route)"
assert_eq "$LISTED" "$(pol)" "MX cache key expired: policy goes on to the DNSBL (554)"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "MX lookup for $D failed" "MX lookup after the expiry went to DNS (logged failure)"
assert_eq "0" "$(redis_cli redis EXISTS "$MX_KEY")" "a failed MX lookup is not written to Redis"
redis_cli redis SET "$MX_KEY" "10 $NODE" EX 3600 >/dev/null

# --- 8. Redis stopped, and back ---------------------------------------------------------------
warm "$LISTED" "before Redis stops"
warm_sm "$ROUTE" "before Redis stops" transport_maps "bob@$D"
redis_stop
t0=$(now_ms)
a=$(pol)
t1=$(now_ms)
assert_eq "$DEFER" "$a" "Redis stopped: next request 451 4.3.0 (on_backend_error = defer), not the cached 554"
check "Redis stopped: answered within 2 s ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 2000
assert_eq "TEMP Redis unavailable" "$(sm transport_maps "bob@$D")" "Redis stopped: socketmap TEMP, not the cached route"
assert_eq "TEMP Redis unavailable" "$(sm relay_domains "$D")" "Redis stopped: relay_domains TEMP"
check "mhpolicyd still runs with Redis down" pid_alive "$PID"
on_before=$(caching_on_count)
redis_restart
t0=$(now_ms)
back_at=
for _ in $(seq 100); do
	if [ "$(pol)" = "$LISTED" ]; then
		back_at=$(( $(now_ms) - t0 )); break
	fi
	sleep 0.05
done
check "Redis back: normal answers again (${back_at:-never} ms after the restart)" test -n "$back_at"
[ -n "$back_at" ] && check "Redis back: within 2 s" test "$back_at" -lt 2000
wait_until 5 log_count_ge $((on_before + 1)) "client-side caching on"
assert_eq $((on_before + 1)) "$(caching_on_count)" "Redis back: log says client-side caching on again"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "connected again" "Redis back: reconnection logged"
subs=$(subscriber_ids)
assert_eq 1 "$(grep -c . <<<"$subs")" "Redis back: a subscriber again"
assert_eq "${subs:-none}" "$(client_field "$(tracked_line)" redir)" "Redis back: tracking on again, redirected to it"
list_flip black "$D" "$SENDER"
warm "$LISTED" "after the restart, cached again"
before=$(data_calls)
run pol_many 50
after=$(data_calls)
assert_eq "50 $LISTED" "$T_OUT" "after the restart: 50 requests, 50 times 554"
check "after the restart: served from the local copies again (Redis reads +$((after - before)))" test $((after - before)) -lt 10

# --- 7. FLUSHALL ---------------------------------------------------------------------------------
warm_sm "OK $D" "relay_domains $D" relay_domains "$D"
warm "$LISTED" "before FLUSHALL"
redis_cli redis FLUSHALL >/dev/null
# an emptied Redis is Redis's failure, not "no such domain": TEMP (Postfix 4xx), not NOTFOUND (554)
assert_eq "TEMP Redis unavailable" "$(sm relay_domains "$D")" "FLUSHALL: next relay_domains query TEMP (no index of domains), not NOTFOUND"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "warning: redis holds no domains (mh:domains is missing" "...and a warning says why"
assert_eq "$DUNNO" "$(pol)" "FLUSHALL: next policy request DUNNO (not ours)"
populate
assert_eq "OK $D" "$(sm relay_domains "$D")" "data written again: relay_domains OK"
assert_eq "$LISTED" "$(pol)" "data written again: 554"

# --- 11. SIGHUP ----------------------------------------------------------------------------------
# No defaults.* setting changes an answer of mhpolicyd (they are mhmilter's:
# size, spam limits, subject tag); node.hostnames does: with this node no
# longer named in the MX set, the relay domain has "a more preferred MX".
warm "$LISTED" "before the reload"
warm_sm "OK smtp:[mx.customer.test]:2525" "before the reload" transport_maps "bob@$D"
write_pconf "" relay9.mhkit.test
kill -HUP "$PID"
wait_until 5 log_count_ge 1 "reloaded" || fail "SIGHUP: reloaded" "$(tail -n 5 "$TMP/mhpolicyd.log")"
assert_eq "$DUNNO" "$(pol)" "SIGHUP, node.hostnames changed: next policy answer DUNNO (not this node's MX any more)"
assert_eq "OK smtp:" "$(sm transport_maps "bob@$D")" "SIGHUP, node.hostnames changed: next transport_maps answer smtp:"
write_pconf
kill -HUP "$PID"
wait_until 5 log_count_ge 2 "reloaded" || fail "SIGHUP back: reloaded" "$(tail -n 5 "$TMP/mhpolicyd.log")"
assert_eq "$LISTED" "$(pol)" "SIGHUP, node.hostnames back: next answer 554"
assert_eq 1 "$(tracked_line | grep -c .)" "after SIGHUP (same redis.*): tracking still on"
list_flip white "$D" "$SENDER"
stop_policyd

# --- 9. an ACL user that may not use tracking: no caching, still exact -------------------------------
# acl_part NAME WHAT ACL-RULE... - mhpolicyd logged in as NAME, whose ACL lacks WHAT
acl_part() {
	local user=$1 what=$2 refused=$3
	shift 3
	redis_cli redis ACL SETUSER "$user" on '>pw' '~*' '&*' '+@all' "$@" >/dev/null
	write_pconf --redis "user = \"$user\"; password = \"pw\";"
	start_policyd
	wait_until 5 grep -qF "client-side caching off" "$TMP/mhpolicyd.log"
	assert_contains "$(cat "$TMP/mhpolicyd.log")" "client-side caching off: $refused refused: NOPERM" "ACL without $what: warning logged"
	warm "$LISTED" "ACL without $what"
	list_flip black "$D" "$SENDER"
	mh users add "$D" bob
	mh domain set "$D" --userlist on
	assert_eq "$DUNNO" "$(pol "carol@$D")" "ACL without $what: userlist on: next request for carol DUNNO"
	mh domain set "$D" --userlist off
	assert_eq "$LISTED" "$(pol "carol@$D")" "ACL without $what: userlist off: next request for carol 554"
	assert_eq 0 "$(tracked_line | grep -c .)" "ACL without $what: no client with tracking on"
	before=$(data_calls)
	run pol_many 20
	after=$(data_calls)
	assert_eq "20 $LISTED" "$T_OUT" "ACL without $what: 20 requests, 20 times 554"
	check "ACL without $what: every request read Redis (+$((after - before)) reads for 20 requests)" test $((after - before)) -ge 100
	sleep 1.5	# the refusal is not retried (and logged) again while the connection stays up
	assert_eq 1 "$(log_count "client-side caching off")" "ACL without $what: logged once (doc: once per connection)"
	check "mhpolicyd runs under the user $user" pid_alive "$PID"
	stop_policyd
}
# CLIENT ID and SUBSCRIBE allowed, CLIENT TRACKING refused
acl_part notrack "CLIENT TRACKING" "CLIENT TRACKING" '-client|tracking'
# no CLIENT subcommand at all (the case doc/mhpolicyd.md names: "an ACL user without CLIENT")
acl_part noclient CLIENT "CLIENT ID" '-client'

# --- 10. policyd.cache_size = 0 ------------------------------------------------------------------
write_pconf 'cache_size = "0";'
start_policyd
sleep 0.5	# give a (wrong) subscriber time to appear
assert_eq "" "$(subscriber_ids)" "cache_size = 0: no subscribed client"
assert_eq 0 "$(tracked_line | grep -c .)" "cache_size = 0: no client with tracking on"
warm "$LISTED" "cache_size = 0"
before=$(data_calls)
run pol_many 20
after=$(data_calls)
assert_eq "20 $LISTED" "$T_OUT" "cache_size = 0: 20 requests, 20 times 554"
check "cache_size = 0: every request read Redis (+$((after - before)) reads for 20 requests)" test $((after - before)) -ge 100
list_flip white --global "$IP"
mh domain set "$D" --port 2600
assert_eq "OK smtp:[mx.customer.test]:2600" "$(sm transport_maps "bob@$D")" "cache_size = 0: domain set --port: next answer has it"
assert_not_contains "$(cat "$TMP/mhpolicyd.log")" "client-side caching" "cache_size = 0: no caching log lines"
stop_policyd

done_testing
