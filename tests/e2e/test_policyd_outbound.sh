#!/bin/bash
# test_policyd_outbound.sh - outbound relay counting in mhpolicyd, at the
# protocol level: policy_context=outbound requests as Postfix sends them
# at RCPT and END-OF-MESSAGE (wire.py, no Postfix), against real Redis.
# Asserts the exact action= lines and the counter mh:{acct:USER}:used:DAY
# (DAY from Redis's TIME): the 150th relay of one block accepted and the
# 151st refused; a 12 MB message to 3 recipients counts 6; a recipient
# that would not fit refused at RCPT; the 101st recipient; over 50 MB;
# unknown and disabled accounts; the same END-OF-MESSAGE twice counted
# once; bad input; Redis stopped, frozen and back: a COMMIT whose reply
# was lost sent again (accepted, counted once) or, past the bound, 451 and
# its count taken back (a refused message never counted); NOSCRIPT;
# account changes seen at the next request; SIGHUP.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/outbound.sh"
need_cmd /usr/bin/python3

POLICYD=${MHPOLICYD:?}
MHLIST=${MHLIST:?}
WIRE="/usr/bin/python3 $TESTS_LIB/wire.py"
MB=1048576
OVER="action=452 4.7.1 Daily relay limit of 150 reached for"
DEFER="action=451 4.3.0 Temporary lookup failure"
BADREQ="action=451 4.3.5 Server configuration problem"

# the counter must survive a restart of Redis: append-only file in its dir
redis_start --appendonly yes
PPORT=$(free_port)
SPORT=$(free_port)
DEAD_DNS=$(free_port)
CONF=$TMP/mhkit.conf
write_conf() {	# write_conf EXTRA-TOP-LEVEL-SETTINGS
	mhkit_conf_write "$CONF" --redis 'timeout = "500ms";' "policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; $1 };
node = { hostnames = [\"relay1.mhkit.test\"]; };
dns = { servers = [\"127.0.0.1@$DEAD_DNS\"]; timeout = \"500ms\"; };
${2:-}"
}
write_conf ""
for u in alice bob dave eve frank; do
	"$MHLIST" -c "$CONF" account add "$u" --blocks 1 >/dev/null || hard_error "mhlist account add $u"
done
"$MHLIST" -c "$CONF" account add carol --blocks 1 --enabled off >/dev/null || hard_error "mhlist account add carol"

start_bg mhpolicyd "$POLICYD" -c "$CONF" -f
PID=$BG_PID
wait_until 10 grep -q "ready" "$TMP/mhpolicyd.log" || hard_error "mhpolicyd did not start"

ex() {	# ex - the requests on stdin, on one connection; the answers on stdout
	$WIRE exchange 127.0.0.1 "$PPORT"
}
day() {
	local t
	t=$(redis_cli redis TIME | head -n 1)
	echo $((t / 86400))
}
used() {	# used USER - today's counter (0 when there is none)
	local v
	v=$(redis_cli redis GET "mh:{acct:$1}:used:$(day)")
	echo "${v:-0}"
}
answers() {	# answers NAME EXPECTED-LINES - T_OUT is exactly these lines
	assert_eq "$2" "$T_OUT" "$1"
}
served() {	# served NAME - a normal request still gets its answer
	run ex < <(rcpt frank "served$RANDOM" 1 100)
	answers "$1: others still served" "action=DUNNO"
}

# --- stages that are not counted ------------------------------------------------------
run ex < <(req CONNECT sasl_username=alice; req MAIL sasl_username=alice instance=i.x size=10; req DATA sasl_username=alice instance=i.x recipient_count=1; req VRFY)
answers "CONNECT, MAIL, DATA, VRFY with policy_context=outbound: DUNNO" "$(dunnos 4)"

# --- one block: 150 relays, the 151st refused -------------------------------------------
run ex < <(rcpt alice alice1 1 1000)
answers "RCPT, 1 recipient, size 1000: DUNNO" "action=DUNNO"
assert_eq 0 "$(used alice)" "RCPT counts nothing"
run ex < <(eom alice alice1 1 1000)
answers "END-OF-MESSAGE: DUNNO" "action=DUNNO"
assert_eq 1 "$(used alice)" "END-OF-MESSAGE counted 1"
ttl=$(redis_cli redis TTL "mh:{acct:alice}:used:$(day)")
check "the counter expires within 2 days ($ttl s)" test "$ttl" -gt 86400 -a "$ttl" -le 172800
run ex < <(for ((i = 2; i <= 149; i++)); do message alice "alice$i" 1 1000; done)
answers "messages 2 to 149: every RCPT and END-OF-MESSAGE DUNNO" "$(dunnos 296)"
assert_eq 149 "$(used alice)" "149 relays counted"
run ex < <(message alice alice150 1 1000)
answers "the 150th relay: accepted" "$(dunnos 2)"
assert_eq 150 "$(used alice)" "150 relays counted"
run ex < <(rcpt alice alice151 1 1000)
answers "the 151st relay: refused at RCPT, exact text" "$OVER alice; resets at 00:00 UTC"
run ex < <(eom alice alice151 1 1000)
answers "the 151st relay: refused at END-OF-MESSAGE (the atomic step)" "$OVER alice; resets at 00:00 UTC"
assert_eq 150 "$(used alice)" "the counter stays at 150"
assert_eq 0 "$(redis_cli redis EXISTS 'mh:{acct:alice}:msg:Qalice151')" "a refused message is not recorded"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "NOQUEUE: defer: RCPT from client.test[192.0.2.7]: 452 4.7.1 Daily relay limit of 150 reached for alice; resets at 00:00 UTC; from=<a@sender.test> to=<r1@dest.test> proto=ESMTP helo=<client.test> sasl_username=alice" "RCPT refusal (4xx) logged in Postfix's style as a defer, as the relay path does"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "Qalice151: defer: END-OF-MESSAGE from client.test[192.0.2.7]: 452 4.7.1 Daily relay limit of 150 reached for alice; resets at 00:00 UTC; from=<a@sender.test> proto=ESMTP helo=<client.test> sasl_username=alice" "END-OF-MESSAGE refusal logged, queue ID first"
run ex < <(eom alice alice77 1 1000)
answers "an END-OF-MESSAGE counted before, sent again (Postfix retrying): DUNNO" "action=DUNNO"
assert_eq 150 "$(used alice)" "...and not counted again"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "Qalice77: outbound: sasl_username=alice: already counted (1 relays)" "already counted: logged"

# account changes apply at the next request (local copies are invalidated)
"$MHLIST" -c "$CONF" account set alice --blocks 2 >/dev/null
run ex < <(message alice alice151 1 1000)
answers "after account set --blocks 2: the 151st accepted at once" "$(dunnos 2)"
assert_eq 151 "$(used alice)" "151 relays counted"
"$MHLIST" -c "$CONF" account set alice --enabled off >/dev/null
run ex < <(rcpt alice alice152 1 1000; eom alice alice152 1 1000)
answers "after account set --enabled off: no outbound service" "action=554 5.7.1 <alice>: no outbound service
action=554 5.7.1 <alice>: no outbound service"
assert_eq 151 "$(used alice)" "a disabled account counts nothing"

# --- sizes and multipliers ---------------------------------------------------------------
S12=$((12 * MB))
run ex < <(message bob bob1 3 "$S12")
answers "12 MB to 3 recipients: accepted" "$(dunnos 4)"
assert_eq 6 "$(used bob)" "12 MB to 3 recipients counts 6"
run ex < <(eom bob bob1 3 "$S12")
answers "the same END-OF-MESSAGE twice: DUNNO" "action=DUNNO"
assert_eq 6 "$(used bob)" "the same END-OF-MESSAGE twice: counted once"
# 144 left; 49 MB counts x5: 28 recipients are 140, the 29th would make 145
S49=$((49 * MB))
run ex < <(for ((i = 1; i <= 29; i++)); do rcpt bob bob2 "$i" "$S49"; done)
answers "49 MB (x5), 144 left: 28 recipients accepted, the 29th refused at RCPT" "$(dunnos 28)
$OVER bob; resets at 00:00 UTC"
assert_eq 6 "$(used bob)" "RCPT refusals count nothing"
run ex < <(eom bob bob2 28 "$S49")
answers "its END-OF-MESSAGE, 28 recipients: accepted" "action=DUNNO"
assert_eq 146 "$(used bob)" "28 x 5 = 140 more counted"
run ex < <(rcpt bob bob3 1 $((50 * MB)))
answers "exactly 50 MB counts 6, 4 left: refused at RCPT" "$OVER bob; resets at 00:00 UTC"
run ex < <(rcpt bob bob4 1 $((10 * MB - 1)); rcpt bob bob4 2 $((10 * MB - 1)); rcpt bob bob4 3 $((10 * MB - 1)); rcpt bob bob4 4 $((10 * MB - 1)); rcpt bob bob4 5 $((10 * MB - 1)))
answers "10 MB - 1 counts 1, 4 left: 4 recipients, the 5th refused" "$(dunnos 4)
$OVER bob; resets at 00:00 UTC"
run ex < <(rcpt bob bob5 1 $((50 * MB + 1)); eom bob bob5 1 $((50 * MB + 1)))
answers "50 MB + 1: 552 at RCPT and at END-OF-MESSAGE" "action=552 5.3.4 Message size exceeds fixed limit
action=552 5.3.4 Message size exceeds fixed limit"
run ex < <(eom bob bob6 3 $((10 * MB)))
answers "an END-OF-MESSAGE whose real size counts more than RCPT saw: refused whole" "$OVER bob; resets at 00:00 UTC"
assert_eq 146 "$(used bob)" "...and nothing counted"

# --- recipients per transaction ------------------------------------------------------------
run ex < <(for ((i = 1; i <= 101; i++)); do rcpt dave dave1 "$i" 100; done; rcpt dave dave1 102 100; rcpt dave dave2 1 100)
answers "101 recipients: 100 accepted, the 101st and 102nd 452 4.5.3; a new transaction (instance) starts again" "$(dunnos 100)
action=452 4.5.3 Error: too many recipients
action=452 4.5.3 Error: too many recipients
action=DUNNO"
run ex < <(rcpt dave dave3 1 100; rcpt dave dave3 2 100)
answers "a new connection: counted from 0" "$(dunnos 2)"
run ex < <(eom dave dave1 100 100)
answers "END-OF-MESSAGE of the 100 recipients: accepted" "action=DUNNO"
assert_eq 100 "$(used dave)" "100 relays counted"
run ex < <(for ((i = 1; i <= 51; i++)); do rcpt dave dave4 "$i" 100; done)
answers "50 left: the 51st recipient of a transaction refused" "$(dunnos 50)
action=452 4.7.1 Daily relay limit of 150 reached for dave; resets at 00:00 UTC"

# --- accounts ---------------------------------------------------------------------------------
run ex < <(rcpt nobody n1 1 100; eom nobody n1 1 100)
answers "unknown account: no outbound service" "action=554 5.7.1 <nobody>: no outbound service
action=554 5.7.1 <nobody>: no outbound service"
run ex < <(rcpt carol c1 1 100; eom carol c1 1 100)
answers "disabled account: no outbound service" "action=554 5.7.1 <carol>: no outbound service
action=554 5.7.1 <carol>: no outbound service"
assert_eq 0 "$(used carol)" "a disabled account counts nothing"

# --- bad input ----------------------------------------------------------------------------------
run ex < <(req RCPT instance=i.b1 recipient=r@dest.test size=100; req END-OF-MESSAGE instance=i.b1 queue_id=Qb1 recipient_count=1 size=100)
answers "sasl_username missing" "action=554 5.7.1 <>: no outbound service
action=554 5.7.1 <>: no outbound service"
run ex < <(req RCPT sasl_username= instance=i.b2 recipient=r@dest.test size=100)
answers "sasl_username empty" "action=554 5.7.1 <>: no outbound service"
run ex < <(req RCPT "sasl_username=frank smith" instance=i.b3 recipient=r@dest.test size=100)
answers "sasl_username with a space" "action=554 5.7.1 <frank smith>: no outbound service"
run ex < <(req RCPT "sasl_username={frank}" instance=i.b3 recipient=r@dest.test size=100)
answers "sasl_username with braces" "action=554 5.7.1 <{frank}>: no outbound service"
long=$(printf 'a%.0s' $(seq 4000))
run ex < <(req RCPT "sasl_username=$long" instance=i.b4 recipient=r@dest.test size=100)
answers "sasl_username of 4,000 bytes: refused, the name cut at 255 bytes" "action=554 5.7.1 <${long:0:252}...>: no outbound service"
long=$(printf 'a%.0s' $(seq 10240))
run $WIRE send 127.0.0.1 "$PPORT" "$(req RCPT "sasl_username=$long" instance=i.b5 size=100)" --timeout 1
assert_eq $'b\'\'\nclosed' "$T_OUT" "sasl_username of 10 KB: past the 4,096-byte line bound, closed without an answer"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "longer than 4096 bytes" "the long line logged"
run $WIRE send 127.0.0.1 "$PPORT" 'request=smtpd_access_policy\nprotocol_state=RCPT\npolicy_context=outbound\nsasl_username=fr\x00ank\ninstance=i.b6\n\n' --timeout 1
assert_eq $'b\'\'\nclosed' "$T_OUT" "sasl_username with a NUL: closed without an answer"
served "after the closed connections"

# the announced size at RCPT is a forecast: unreadable counts as 0, END-OF-MESSAGE judges
run ex < <(req RCPT sasl_username=frank instance=i.f1 recipient=r1@dest.test; rcpt frank f1 2 -5; rcpt frank f1 3 abc; rcpt frank f1 4 "")
answers "RCPT size missing, negative, non-numeric, empty: DUNNO" "$(dunnos 4)"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "warning: NOQUEUE: outbound: RCPT from client.test[192.0.2.7]: size is not a number; taken as 0; sasl_username=frank" "unreadable size at RCPT: warned"
run ex < <(rcpt frank f2 1 99999999999999999999)
answers "RCPT size of 20 digits: over the limit" "action=552 5.3.4 Message size exceeds fixed limit"
before=$(used frank)
run ex < <(req END-OF-MESSAGE sasl_username=frank instance=i.f3 queue_id=Qf3 recipient_count=1
	eom frank f4 1 -5
	eom frank f5 1 abc
	eom frank f6 1 ""
	eom frank f7 1 99999999999999999999
	req END-OF-MESSAGE sasl_username=frank instance=i.f8 queue_id=Qf8 size=100
	eom frank f9 0 100
	eom frank f10 1x 100
	eom frank f11 99999999999999999999 100
	req END-OF-MESSAGE sasl_username=frank instance=i.f12 recipient_count=1 size=100
	req END-OF-MESSAGE sasl_username=frank instance=i.f13 queue_id=Q-13 recipient_count=1 size=100)
answers "END-OF-MESSAGE: size missing, negative, non-numeric, empty; 20 digits; recipient_count absent, 0, not a number, 20 digits; queue_id absent, not letters and digits" "$BADREQ
$BADREQ
$BADREQ
$BADREQ
action=552 5.3.4 Message size exceeds fixed limit
$BADREQ
$BADREQ
$BADREQ
$BADREQ
$BADREQ
$BADREQ"
assert_eq "$before" "$(used frank)" "bad END-OF-MESSAGE requests count nothing"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "warning: Qf8: outbound: END-OF-MESSAGE from client.test[192.0.2.7]: no recipient_count (or not a number above 0); sasl_username=frank" "missing recipient_count: warned"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "Qf8: defer: END-OF-MESSAGE from client.test[192.0.2.7]: 451 4.3.5 Server configuration problem" "...and the defer logged"
run ex < <(req RCPT sasl_username=frank recipient=r@dest.test size=100)
answers "RCPT without instance: cannot count recipients, deferred" "$BADREQ"

# --- NOSCRIPT: Redis lost its script cache -------------------------------------------------------
redis_cli redis SCRIPT FLUSH >/dev/null
before=$(used frank)
run ex < <(message frank f20 2 100)
answers "after SCRIPT FLUSH: CHECK and COMMIT sent again as EVAL, answered" "$(dunnos 3)"
assert_eq $((before + 2)) "$(used frank)" "after SCRIPT FLUSH: counted"

# --- batches: END-OF-MESSAGE requests that come together share one COMMIT ------------------------
# Redis holds back writes (CLIENT PAUSE WRITE, shorter than redis.timeout)
# while 18 requests arrive on 18 connections at once: those read in one
# turn of mhpolicyd's loop share a COMMIT, at most eight COMMITs are in
# flight, and what comes later waits and goes in one more: at most 9
# calls (18 without batches).
evalsha_calls() {
	redis_cli redis INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p'
}
"$MHLIST" -c "$CONF" account add grace --blocks 1 >/dev/null || hard_error "mhlist account add grace"
run ex < <(rcpt grace g0 1 100)	# grace's account in the local copy: only COMMIT needs Redis
answers "grace: a recipient" "action=DUNNO"
calls=$(evalsha_calls)
redis_cli redis CLIENT PAUSE 300 WRITE >/dev/null
run $WIRE scatter 127.0.0.1 "$PPORT" < <(for i in $(seq 16); do eom grace "g$i" 1 100; done; eom grace gdup 2 100; eom grace gdup 2 100)
answers "18 END-OF-MESSAGE requests at once: all accepted" "$(dunnos 18)"
assert_eq 18 "$(used grace)" "...16 counted once each, and the queue ID sent twice counted once"
grep -q "Qgdup: outbound: sasl_username=grace: already counted (2 relays)" "$TMP/mhpolicyd.log"
check "...the second of the same queue ID: already counted (logged)" test $? = 0
n=$(( $(evalsha_calls) - ${calls:-0} ))
check "...in $n COMMIT calls (at most 9)" test "$n" -le 9
run ex < <(message grace g20 2 100)
answers "grace after the batch: a message of 2 recipients" "$(dunnos 3)"
assert_eq 20 "$(used grace)" "...counted"

# --- Redis down -------------------------------------------------------------------------------------
run ex < <(message eve eve1 1 100)
answers "eve: one message" "$(dunnos 2)"
redis_stop
run ex < <(rcpt eve eve2 1 100; eom eve eve2 1 100)
answers "Redis stopped: RCPT and END-OF-MESSAGE deferred (on_backend_error = defer)" "$DEFER
$DEFER"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "Qeve2: defer: END-OF-MESSAGE from client.test[192.0.2.7]: 451 4.3.0 Temporary lookup failure" "the defer logged"
redis_restart
wait_until 10 bash -c "$WIRE exchange 127.0.0.1 $PPORT < <(printf 'request=smtpd_access_policy\nprotocol_state=RCPT\npolicy_context=outbound\nsasl_username=eve\ninstance=i.w\nsize=1\n\n') | grep -qx action=DUNNO" ||
	fail "mhpolicyd did not reconnect to Redis"
assert_eq 1 "$(used eve)" "Redis back: the counter kept (1)"
run ex < <(eom eve eve2 1 100; eom eve eve2 1 100; message eve eve3 2 100)
answers "Redis back: the deferred message sent again, twice, and another: accepted" "$(dunnos 5)"
assert_eq 4 "$(used eve)" "Redis back: counts resume, the deferred message counted once (1 + 1 + 2)"

# Redis frozen (SIGSTOP) while COMMIT is in flight: its reply is lost
# after redis.timeout (500 ms here), and Redis runs it when it wakes.
# mhpolicyd then waits up to redis.timeout more for Redis and sends the
# same COMMIT again; past that it answers 451 and takes the count back
# (UNDO) once Redis is reachable.
# frozen_eom ID WAKE - eve's END-OF-MESSAGE of transaction ID (3 recipients)
# sent while Redis is frozen; WAKE=early: Redis woken as soon as mhpolicyd
# has lost the connection (well within the bound), WAKE=late: after the
# answer. The answer in T_OUT. The request goes through a FIFO to a client
# already started, so it reaches mhpolicyd within milliseconds of the freeze.
frozen_eom() {
	local fifo=$TMP/frozen.fifo lost i
	rm -f "$fifo"
	mkfifo "$fifo"
	run ex < <(rcpt eve "$1" 1 100)	# eve's account in the local copy: only COMMIT needs Redis
	start_bg "frozen-$1" bash -c "$WIRE exchange 127.0.0.1 $PPORT <'$fifo'"
	lost=$(grep -c "connection lost" "$TMP/mhpolicyd.log")
	kill -STOP "$(redis_pid)"
	eom eve "$1" 3 100 >"$fifo"
	if [ "$2" = early ]; then
		for ((i = 0; i < 250; i++)); do	# at most 5 s
			[ "$(grep -c "connection lost" "$TMP/mhpolicyd.log")" -gt "$lost" ] && break
			sleep 0.02
		done
		kill -CONT "$(redis_pid)"
	fi
	wait_until 10 bash -c "! kill -0 $BG_PID" || fail "frozen_eom $1: no answer within 10 s"
	[ "$2" = early ] || kill -CONT "$(redis_pid)"
	wait "$BG_PID"
	unregister_pid "$BG_PID"
	T_OUT=$(cat "$TMP/frozen-$1.log")
}

# (a) frozen for less than the bound: the COMMIT sent again is answered
before=$(used eve)
frozen_eom eve4 early
answers "Redis frozen during COMMIT, woken within the bound: accepted, not 451" "action=DUNNO"
assert_eq $((before + 3)) "$(used eve)" "...and counted exactly once"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "Qeve4: outbound: sasl_username=eve: COMMIT sent again after its reply was lost" "the second COMMIT logged"
echo "# $(grep -o 'Qeve4: outbound: sasl_username=eve: COMMIT sent again.*' "$TMP/mhpolicyd.log")"
assert_not_contains "$(cat "$TMP/mhpolicyd.log")" "Qeve4: defer" "...and no defer"

# (b) frozen for longer than the bound: 451, then the count taken back
before=$(used eve)
frozen_eom eve5 late
answers "Redis frozen during COMMIT past the bound: deferred" "$DEFER"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "warning: Qeve5: outbound: END-OF-MESSAGE from client.test[192.0.2.7]: COMMIT: no reply, and Redis unreachable for redis.timeout more; whether it counted is unknown; sasl_username=eve" "the unknown outcome warned"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "Qeve5: defer: END-OF-MESSAGE from client.test[192.0.2.7]: 451 4.3.0 Temporary lookup failure" "the defer logged"
wait_until 10 eval '[ "$(used eve)" = "$before" ] && grep -q "Qeve5: outbound: undo of" "$TMP/mhpolicyd.log"' ||
	fail "the count of the refused message was not taken back within 10 s"
assert_eq "$before" "$(used eve)" "Redis back: the counter is back to its value before the refused message"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "Qeve5: outbound: undo of 3 relays for eve: the message was refused while Redis was unreachable" "the undo logged"
assert_eq undone "$(redis_cli redis GET 'mh:{acct:eve}:msg:Qeve5')" "the message's record marks it undone"
run ex < <(eom eve eve5 3 100)
answers "the same queue ID again (Postfix never sends it after a 451): refused again" "$DEFER"
assert_eq "$before" "$(used eve)" "...nothing counted"
run ex < <(message eve eve6 3 100)
answers "the client's retry (a new queue ID): accepted" "$(dunnos 4)"
assert_eq $((before + 3)) "$(used eve)" "the retried message counted once"

# --- SIGHUP: on_backend_error = dunno, quota_reply 5xx ------------------------------------------------
write_conf 'on_backend_error = "dunno";' 'outbound = { quota_reply = "550 5.7.1"; };'
kill -HUP "$PID"
wait_until 5 grep -q "reloaded" "$TMP/mhpolicyd.log" || fail "no reload"
run ex < <(rcpt bob bob7 1 $((50 * MB)))
answers "quota_reply = 550 5.7.1: the refusal with that code" "action=550 5.7.1 Daily relay limit of 150 reached for bob; resets at 00:00 UTC"
# (c) on_backend_error = dunno, Redis frozen past the bound: the message is
# accepted, so whatever COMMIT did stays (no undo)
before=$(used eve)
frozen_eom eve7 late
answers "Redis frozen past the bound, on_backend_error = dunno: DUNNO" "action=DUNNO"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "Qeve7: outbound: sasl_username=eve: accepted (on_backend_error = dunno) with COMMIT's outcome unknown" "accepted with the outcome unknown: warned"
wait_until 10 eval '[ "$(used eve)" = $((before + 3)) ]' ||
	fail "the COMMIT run when Redis woke was not seen"
sleep 0.5
assert_eq $((before + 3)) "$(used eve)" "on_backend_error = dunno: the accepted message stays counted (COMMIT ran when Redis woke)"
assert_not_contains "$(cat "$TMP/mhpolicyd.log")" "Qeve7: outbound: undo" "...and is not taken back"
redis_stop
run ex < <(rcpt eve eve8 1 100; eom eve eve8 1 100)
answers "Redis stopped, on_backend_error = dunno: DUNNO" "$(dunnos 2)"
redis_restart
check "mhpolicyd never died" pid_alive "$PID"

# the documented window: mhpolicyd stopped after a 451 and before Redis is
# back loses the list of counts to take back; it says which at exit
write_conf ""
kill -HUP "$PID"
wait_until 5 eval '[ "$(grep -c reloaded "$TMP/mhpolicyd.log")" -ge 2 ]' || fail "no second reload"
wait_until 10 eval '[ "$(ex < <(rcpt eve eve9 1 100))" = action=DUNNO ]' || fail "mhpolicyd did not reconnect to Redis"
kill -STOP "$(redis_pid)"
run ex < <(eom eve eve9 3 100)
answers "Redis frozen past the bound: deferred" "$DEFER"
stop_pid "$PID" TERM
kill -CONT "$(redis_pid)"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "warning: Qeve9: outbound: undo for eve not done (Redis unreachable until exit): its relays, if COMMIT ran, stay counted until their day ends" "stopped before Redis was back: the count not taken back is logged"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "stopped:" "SIGTERM: clean exit"
assert_not_contains "$(cat "$TMP/mhpolicyd.log")" "panic" "no panic logged"
assert_not_contains "$(cat "$TMP/mhpolicyd.log")" "Sanitizer" "no sanitizer report (with --enable-sanitizers)"
assert_not_contains "$(cat "$TMP/mhpolicyd.log")" "runtime error" "no undefined behaviour reported"
done_testing
