#!/bin/bash
# test_quota.sh - quota/ (the CHECK, COMMIT and UNDO scripts) against a
# real redis-server: a limit of 150 exactly, one count per queue ID,
# refused messages never counted, key TTLs, 16 processes racing past the
# limit, the 00:00 UTC rollover, UNDO (a count taken back once, from the
# day it was counted on, and a late COMMIT then counting nothing),
# NOSCRIPT fallback, and a confused or absent Redis never read as
# "allowed". Drives tests/integration/quota_probe.

here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"

PROBE=${QUOTA_PROBE:-$here/quota_probe}
[ -x "$PROBE" ] || hard_error "quota_probe not built: $PROBE"

CONF=$TMP/mhkit.conf
PARALLEL=16			# concurrent probe processes
RACE_TIMEOUT=120		# seconds the racing probes may take in all

# probe ARGS... - the probe with the test config
probe() {
	"$PROBE" -c "$CONF" "$@"
}

# field LINE NAME - the value of NAME= in a probe result line
field() {
	printf '%s\n' "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p" | head -n 1
}

# rcli ARGS... - redis-cli against the test's Redis
rcli() {
	redis_cli main "$@"
}

# counter USER DAY - today's counter as Redis holds it ("" when absent)
counter() {
	rcli GET "mh:{acct:$1}:used:$2"
}

# away_from_midnight - wait (at most 61 s) when 00:00 UTC is under a minute away,
# so that no step of this test straddles a real rollover
away_from_midnight() {
	local left
	run probe show nobody 1
	left=$(field "$T_OUT" reset_in)
	[ -n "$left" ] || hard_error "show failed: $T_OUT"
	if [ "$left" -lt 60 ]; then
		echo "# 00:00 UTC in $left s: waiting for it to pass"
		sleep $((left + 1))
	fi
}

# race NAME USER LIMIT COUNT RELAYS... - one probe per RELAYS word, started
# together (each connects, then waits for one start file), each committing
# COUNT messages with its own queue IDs; waits (bounded)
# and leaves the outputs in $TMP/NAME-I.log; RACE_BAD = how many failed
race() {
	local name=$1 user=$2 limit=$3 count=$4 i=0 r pid bad=0 pids=()
	shift 4
	for r in "$@"; do
		i=$((i + 1))
		start_bg "$name-$i" "$PROBE" -c "$CONF" --count "$count" --start-when "$TMP/$name.go" \
			commit "$user" "$limit" "$r" "${name}p${i}m"
		pids+=("$BG_PID")
	done
	sleep 0.3
	touch "$TMP/$name.go"
	wait_until "$RACE_TIMEOUT" all_done "${pids[@]}" || echo "# $name: probes still running after $RACE_TIMEOUT s" >&2
	for pid in "${pids[@]}"; do
		if pid_alive "$pid"; then
			stop_pid "$pid" KILL
			bad=$((bad + 1))
			continue
		fi
		wait "$pid" || bad=$((bad + 1))
		unregister_pid "$pid"
	done
	RACE_BAD=$bad
}

# all_done PID... - none of them runs any more
all_done() {
	local p
	for p in "$@"; do
		pid_alive "$p" && return 1
	done
	return 0
}

# sum_counted NAME - relays of the commits counted, over all of a race's logs
sum_counted() {
	cat "$TMP/$1"-*.log | awk '/^counted / { for (i = 2; i <= NF; i++) if ($i ~ /^relays=/) { sub(/relays=/, "", $i); s += $i } } END { print s + 0 }'
}

# winners NAME - how many of a race's probes had some commit counted
winners() {
	local f n=0
	for f in "$TMP/$1"-*.log; do
		grep -q '^counted ' "$f" && n=$((n + 1))
	done
	echo "$n"
}

# lines NAME VERDICT - result lines of that verdict over a race's logs
lines() {
	cat "$TMP/$1"-*.log | grep -c "^$2 "
}

redis_start main
mhkit_conf_write "$CONF"

# --- the scripts' names: our SHA-1 is Redis's ------------------------------------

for s in check commit undo; do
	"$PROBE" script "$s" >"$TMP/$s.lua"
	assert_eq "$("$PROBE" sha $s)" "$(rcli -x SCRIPT LOAD <"$TMP/$s.lua")" "sha: $s script's SHA-1 as Redis computes it"
done

away_from_midnight

# --- limit 150: the 150th relay counted, the 151st refused ---------------------

assert_exit 0 probe --count 150 commit alice 150 1 A
assert_eq 150 "$(printf '%s\n' "$T_OUT" | grep -c '^counted ')" "limit: 150 one-relay messages counted"
last=$(printf '%s\n' "$T_OUT" | tail -n 1)
assert_match "$last" '^counted used=150 limit=150 left=0 relays=1 ' "limit: the 150th leaves 0"
DAY=$(field "$last" day)
assert_eq "$(( $(date -u +%s) / 86400 ))" "$DAY" "day: the UTC day number from Redis TIME"
assert_match "$last" "reset=$(date -u -d "@$(( (DAY + 1) * 86400 ))" +%Y-%m-%dT00:00:00Z)" "day: reset at the next 00:00 UTC"

assert_exit 0 probe commit alice 150 1 A151
assert_match "$T_OUT" '^refused used=150 limit=150 left=0 relays=1 ' "limit: the 151st refused"
assert_eq 150 "$(counter alice "$DAY")" "limit: counter unchanged by the refusal"
assert_eq 0 "$(rcli EXISTS 'mh:{acct:alice}:msg:A151')" "refused: no record kept for the refused message"
assert_exit 0 probe check alice 150 1
assert_match "$T_OUT" '^full used=150 ' "check: a recipient that cannot fit is refused"
assert_exit 0 probe show alice 150
assert_match "$T_OUT" '^show used=150 limit=150 left=0 relays=0 ' "show: today's use"
assert_eq 150 "$(counter alice "$DAY")" "check and show count nothing"

# the account buys another block: the refused queue ID is counted once now
assert_exit 0 probe commit alice 300 1 A151
assert_match "$T_OUT" '^counted used=151 limit=300 left=149 ' "refused: the same queue ID counts when it fits later"
assert_exit 0 probe commit alice 300 1 A151
assert_match "$T_OUT" '^already used=151 ' "refused then counted: once"

# --- idempotency per queue ID ----------------------------------------------------

assert_exit 0 probe commit bob 150 6 Q12MB
assert_match "$T_OUT" '^counted used=6 limit=150 left=144 relays=6 ' "queue ID: counted the first time"
assert_exit 0 probe commit bob 150 6 Q12MB
assert_match "$T_OUT" '^already used=6 limit=150 left=144 relays=6 ' "queue ID: END-OF-DATA repeated: already counted"
assert_exit 0 probe commit bob 3 6 Q12MB
assert_match "$T_OUT" '^already used=6 ' "queue ID: already counted wins over a lower limit"
assert_eq 6 "$(counter bob "$DAY")" "queue ID: counted once"
assert_eq "$DAY:6" "$(rcli GET 'mh:{acct:bob}:msg:Q12MB')" "queue ID: the record holds the day and the relays counted"

# Postfix repeating END-OF-DATA while the first try still runs, on two nodes:
# 16 processes commit one queue ID at the same moment
pids=()
for i in $(seq 1 "$PARALLEL"); do
	start_bg "same-$i" "$PROBE" -c "$CONF" --start-when "$TMP/same.go" commit carol 150 3 SAMEQID
	pids+=("$BG_PID")
done
sleep 0.3
touch "$TMP/same.go"
wait_until 30 all_done "${pids[@]}" || fail "same queue ID race: probes finished in 30 s"
for p in "${pids[@]}"; do wait "$p"; unregister_pid "$p"; done
assert_eq "1 15" "$(lines same counted) $(lines same already)" "same queue ID from 16 processes: one counted, 15 already"
assert_eq 3 "$(counter carol "$DAY")" "same queue ID: its 3 relays counted once"

# --- TTLs ------------------------------------------------------------------------

ttl=$(rcli TTL "mh:{acct:alice}:used:$DAY")
check "ttl: counter expires between 1 and 2 days ($ttl s)" test "$ttl" -gt 86400 -a "$ttl" -le 172800
ttl=$(rcli TTL 'mh:{acct:bob}:msg:Q12MB')
check "ttl: queue ID record expires between 1 and 2 days ($ttl s)" test "$ttl" -gt 86400 -a "$ttl" -le 172800

# --- RCPT: the recipient that would not fit ----------------------------------------

assert_exit 0 probe commit dave 150 140 D1
assert_exit 0 probe check dave 150 10
assert_match "$T_OUT" '^fits used=140 limit=150 left=10 relays=10 ' "rcpt: (n + 1) x multiplier that fits"
assert_exit 0 probe check dave 150 12
assert_match "$T_OUT" '^full used=140 ' "rcpt: (n + 1) x multiplier that does not fit"

# --- exactness under concurrency ---------------------------------------------------

# 8 probes of 1-relay and 8 of 3-relay messages, 75 each: 2,400 relays asked, limit 600
race mixed mixed 600 75 1 3 1 3 1 3 1 3 1 3 1 3 1 3 1 3
assert_eq 0 "$RACE_BAD" "mixed race: every probe succeeded"
assert_eq 0 "$(cat "$TMP"/mixed-*.log | grep -c '^error')" "mixed race: no errors"
assert_eq 1200 "$(cat "$TMP"/mixed-*.log | grep -cE '^(counted|refused) ')" "mixed race: 1,200 answers"
sum=$(sum_counted mixed)
c=$(counter mixed "$DAY")
assert_eq "$sum" "$c" "mixed race: counter ($c) == relays of the messages counted ($sum)"
check "mixed race: counter $c <= limit 600" test "$c" -le 600
check "mixed race: counter $c >= 598 (a refused 3 means under 3 were left)" test "$c" -ge 598
check "mixed race: some refused" test "$(lines mixed refused)" -gt 0

# 16 probes of 1-relay messages, 120 each: 1,920 asked, exactly 600 granted
race exact exact 600 120 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1
assert_eq 0 "$RACE_BAD" "exact race: every probe succeeded"
assert_eq "600 1320" "$(lines exact counted) $(lines exact refused)" "exact race: 600 counted, 1,320 refused"
assert_eq 600 "$(sum_counted exact)" "exact race: relays granted == the limit"
assert_eq 600 "$(counter exact "$DAY")" "exact race: counter == the limit"
max=$(cat "$TMP"/exact-*.log | awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^used=/) { sub(/used=/, "", $i); if ($i + 0 > m) m = $i + 0 } } END { print m + 0 }')
assert_eq 600 "$max" "exact race: no answer ever saw more than the limit"
w=$(winners exact)
check "exact race: the probes really raced ($w of $PARALLEL had commits counted)" test "$w" -ge 4

# --- rollover: what 00:00 UTC does, without waiting for it -------------------------
# The counter is named by the day Redis's clock gives; at midnight the
# script starts using a new name. Renaming today's key to yesterday's name
# is, from the counter's side, exactly that.

away_from_midnight
assert_exit 0 probe --count 150 commit erin 150 1 E
assert_exit 0 probe commit erin 150 1 E151
assert_match "$T_OUT" '^refused used=150 ' "rollover: erin used up today"
DAY=$(field "$T_OUT" day)
YESTERDAY=$((DAY - 1))
rcli RENAME "mh:{acct:erin}:used:$DAY" "mh:{acct:erin}:used:$YESTERDAY" >/dev/null
assert_exit 0 probe show erin 150
assert_match "$T_OUT" '^show used=0 limit=150 left=150 ' "rollover: the full quota again after 00:00"
assert_exit 0 probe commit erin 150 1 E7
assert_match "$T_OUT" '^already used=0 ' "rollover: a message counted yesterday and retried today is not counted again"
assert_exit 0 probe --count 150 commit erin 150 1 R
assert_eq 150 "$(printf '%s\n' "$T_OUT" | grep -c '^counted ')" "rollover: 150 relays granted on the new day"
assert_exit 0 probe commit erin 150 1 R151
assert_match "$T_OUT" '^refused used=150 ' "rollover: and the 151st refused"
assert_eq 150 "$(counter erin "$YESTERDAY")" "rollover: yesterday's counter left alone"
ttl=$(rcli TTL "mh:{acct:erin}:used:$YESTERDAY")
check "rollover: yesterday's counter still expires ($ttl s)" test "$ttl" -gt 0

# --- UNDO: a message answered 451 after all takes its count back ---------------------

away_from_midnight
assert_exit 0 probe commit ivan 150 6 U1
assert_exit 0 probe commit ivan 150 4 U2
DAY=$(field "$T_OUT" day)
assert_eq 10 "$(counter ivan "$DAY")" "undo: two messages counted (6 + 4)"
assert_exit 0 probe undo ivan U1
assert_match "$T_OUT" "^undone used=4 limit=0 left=0 relays=6 day=$DAY " "undo: 6 relays taken back from today"
assert_eq 4 "$(counter ivan "$DAY")" "undo: the counter is back to what the other message counts"
assert_eq undone "$(rcli GET 'mh:{acct:ivan}:msg:U1')" "undo: the record is now the undone mark"
ttl=$(rcli TTL 'mh:{acct:ivan}:msg:U1')
check "undo: the mark expires within 2 days ($ttl s)" test "$ttl" -gt 86400 -a "$ttl" -le 172800
assert_exit 0 probe undo ivan U1
assert_match "$T_OUT" '^nothing used=0 limit=0 left=0 relays=0 ' "undo twice: the second takes nothing back"
assert_eq 4 "$(counter ivan "$DAY")" "undo twice: counter unchanged"
assert_exit 0 probe commit ivan 150 6 U1
assert_match "$T_OUT" '^undone used=4 limit=150 left=146 relays=0 ' "undo: a late COMMIT of that queue ID counts nothing"
assert_eq 4 "$(counter ivan "$DAY")" "undo: ...the counter unchanged"
assert_exit 0 probe undo ivan NEVERSEEN
assert_match "$T_OUT" '^nothing used=0 limit=0 left=0 relays=0 ' "undo of an unknown queue ID: nothing taken back"
assert_eq 4 "$(counter ivan "$DAY")" "undo of an unknown queue ID: counter unchanged"
assert_eq undone "$(rcli GET 'mh:{acct:ivan}:msg:NEVERSEEN')" "undo of an unknown queue ID: marked, so that its COMMIT arriving late..."
assert_exit 0 probe commit ivan 150 1 NEVERSEEN
assert_match "$T_OUT" '^undone used=4 ' "...counts nothing"
assert_eq 4 "$(counter ivan "$DAY")" "...counter unchanged"
assert_eq "" "$(counter nobodyhere "$DAY")" "undo of an unknown account's message: no counter made"
assert_exit 0 probe undo nobodyhere X1
assert_match "$T_OUT" '^nothing ' "undo for an account with no counter: nothing"
assert_eq "" "$(counter nobodyhere "$DAY")" "...and still no counter"

# a counter lower than the record (changed by hand): taken to 0, never below
assert_exit 0 probe commit ivan 150 5 U3
rcli SET "mh:{acct:ivan}:used:$DAY" 2 KEEPTTL >/dev/null
assert_exit 0 probe undo ivan U3
assert_match "$T_OUT" "^undone used=0 limit=0 left=0 relays=2 day=$DAY " "undo: a counter lower than the record goes to 0"
assert_eq 0 "$(counter ivan "$DAY")" "undo: never below 0"

# rollover: the message was counted yesterday; the undo comes after 00:00 UTC
assert_exit 0 probe commit judy 150 5 J1
assert_exit 0 probe commit judy 150 3 J2
DAY=$(field "$T_OUT" day)
YESTERDAY=$((DAY - 1))
rcli RENAME "mh:{acct:judy}:used:$DAY" "mh:{acct:judy}:used:$YESTERDAY" >/dev/null
rcli SET 'mh:{acct:judy}:msg:J1' "$YESTERDAY:5" KEEPTTL >/dev/null
assert_exit 0 probe commit judy 150 2 J3
assert_match "$T_OUT" '^counted used=2 ' "undo after rollover: a message counted on the new day"
assert_exit 0 probe undo judy J1
assert_match "$T_OUT" "^undone used=3 limit=0 left=0 relays=5 day=$YESTERDAY " "undo after rollover: taken back from yesterday's counter"
assert_eq 3 "$(counter judy "$YESTERDAY")" "undo after rollover: yesterday's counter 8 - 5"
assert_eq 2 "$(counter judy "$DAY")" "undo after rollover: today's counter left alone"
ttl=$(rcli TTL "mh:{acct:judy}:used:$YESTERDAY")
check "undo after rollover: yesterday's counter keeps its expiry ($ttl s)" test "$ttl" -gt 0

# records it does not understand: an error, nothing changed
rcli SET 'mh:{acct:judy}:msg:J9' 5 >/dev/null
assert_exit 1 probe undo judy J9
assert_contains "$T_OUT" "error: quota undo: Redis: ERR mhkit quota: mh:{acct:judy}:msg:J9 is not a record" "undo: a record without its day is an error"
assert_exit 1 probe commit judy 150 1 J9
assert_contains "$T_OUT" "error: quota commit: mh:{acct:judy}:msg:J9 is not a record" "commit: so is it for COMMIT"
assert_eq 5 "$(rcli GET 'mh:{acct:judy}:msg:J9')" "undo: the record left as it was"
rcli SET 'mh:{acct:judy}:msg:J8' "$DAY:5" >/dev/null
rcli SET "mh:{acct:judy}:used:$DAY" abc >/dev/null
assert_exit 1 probe undo judy J8
assert_contains "$T_OUT" "is not a count" "undo: a counter that is not a count is an error"
assert_eq "$DAY:5" "$(rcli GET 'mh:{acct:judy}:msg:J8')" "undo: ...and the record is left as it was"
rcli SET "mh:{acct:judy}:used:$DAY" 2 >/dev/null
assert_exit 1 probe undo 'ju dy' J8
assert_contains "$T_OUT" "error: account name has a space" "undo: bad name refused before Redis"

# --- batches: many messages in one COMMIT, each as if alone, in order -------------------

run probe show nobody 1
DAY=$(field "$T_OUT" day)
assert_exit 0 probe batch b1:150:2:Q1 b1:150:2:Q1
assert_match "$(sed -n 1p <<<"$T_OUT")" '^counted used=2 limit=150 left=148 relays=2 .* qid=Q1$' "batch: a message counted"
assert_match "$(sed -n 2p <<<"$T_OUT")" '^already used=2 limit=150 left=148 relays=2 .* qid=Q1$' "batch: the same queue ID later in the batch: already counted"
assert_eq 2 "$(counter b1 "$DAY")" "batch: counted once"
assert_exit 0 probe batch b2:10:4:A1 b2:10:5:A2 b2:10:3:A3 b2:10:1:A4
assert_eq "counted used=4;counted used=9;refused used=9;counted used=10" \
	"$(cut -d' ' -f1,2 <<<"$T_OUT" | paste -sd';')" "batch: the limit crossed inside a batch: the one that does not fit refused, a smaller one after it counted"
assert_eq 10 "$(counter b2 "$DAY")" "batch: the counter at the limit exactly"
assert_eq 0 "$(rcli EXISTS 'mh:{acct:b2}:msg:A3')" "batch: the refused message not recorded"
assert_eq "$DAY:4" "$(rcli GET 'mh:{acct:b2}:msg:A1')" "batch: a counted one recorded DAY:RELAYS"
ttl=$(rcli TTL 'mh:{acct:b2}:msg:A4')
check "batch: records expire ($ttl s)" test "$ttl" -gt 172000 -a "$ttl" -le 172800
ttl=$(rcli TTL "mh:{acct:b2}:used:$DAY")
check "batch: the counter expires ($ttl s)" test "$ttl" -gt 172000 -a "$ttl" -le 172800
rcli SET "mh:{acct:b3}:used:$DAY" abc >/dev/null
assert_exit 1 probe batch b4:150:1:C1 b3:150:1:C2 b4:150:2:C3
assert_match "$(sed -n 1p <<<"$T_OUT")" '^counted used=1 .* qid=C1$' "batch: before a broken counter of another account: counted"
assert_eq "error: quota commit: mh:{acct:b3}:used:$DAY is not a count" "$(sed -n 2p <<<"$T_OUT")" "batch: the broken counter is that message's error"
assert_match "$(sed -n 3p <<<"$T_OUT")" '^counted used=3 .* qid=C3$' "batch: after it: counted"
assert_eq 0 "$(rcli EXISTS 'mh:{acct:b3}:msg:C2')" "batch: the failed message not recorded"
assert_eq abc "$(counter b3 "$DAY")" "batch: the broken counter left as it was"
assert_exit 0 probe batch b5:1:2:D1
assert_match "$T_OUT" '^refused used=0 limit=1 left=1 relays=2 ' "batch: a message larger than the whole limit refused"
assert_eq 0 "$(rcli EXISTS "mh:{acct:b5}:used:$DAY")" "batch: ...and no counter is left behind for it"
rcli SET 'mh:{acct:b6}:msg:U1' undone EX 100 >/dev/null
assert_exit 0 probe batch b6:150:1:U1 b6:150:1:U2
assert_eq "undone used=0 relays=0;counted used=1 relays=1" \
	"$(cut -d' ' -f1,2,5 <<<"$T_OUT" | paste -sd';')" "batch: an undone queue ID counts nothing, the next one counts"
words=()
for i in $(seq 32); do words+=("b7:1000:1:F$i"); done
assert_exit 0 probe batch "${words[@]}"
assert_eq 32 "$(grep -c '^counted' <<<"$T_OUT")" "batch: 32 messages in one call"
assert_match "$(tail -n 1 <<<"$T_OUT")" '^counted used=32 .* qid=F32$' "batch: ...counted in order"
assert_exit 1 probe batch "${words[@]}" b7:1000:1:F33
assert_eq "error: message 33: more than 32 messages in one COMMIT" "$T_OUT" "batch: a 33rd message refused before Redis"
assert_eq 32 "$(counter b7 "$DAY")" "batch: ...nothing sent"
rcli CONFIG SET maxmemory 1 >/dev/null
assert_exit 1 probe batch b8:150:1:M1 b9:150:1:M2
assert_eq 2 "$(grep -c "^error: quota commit: Redis: OOM" <<<"$T_OUT")" "batch: Redis refusing to write (OOM) fails every message"
rcli CONFIG SET maxmemory 0 >/dev/null
assert_eq 0 "$(rcli EXISTS "mh:{acct:b8}:used:$DAY" 'mh:{acct:b8}:msg:M1' 'mh:{acct:b9}:msg:M2')" "batch: ...and nothing was written"

# --- NOSCRIPT: Redis lost its script cache -------------------------------------------

evals() {
	rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_eval:calls=\([0-9]*\),.*/\1/p'
}
rcli SCRIPT FLUSH >/dev/null
sha=$("$PROBE" sha commit)
assert_eq 0 "$(rcli SCRIPT EXISTS "$sha")" "noscript: cache flushed"
before=$(evals)
assert_exit 0 probe commit frank 150 2 F1
assert_match "$T_OUT" '^counted used=2 ' "noscript: commit still works (EVAL fallback)"
assert_eq $(( ${before:-0} + 1 )) "$(evals)" "noscript: one EVAL sent"
assert_eq 1 "$(rcli SCRIPT EXISTS "$sha")" "noscript: EVAL put the script back in the cache"
assert_exit 0 probe commit frank 150 2 F2
assert_match "$T_OUT" '^counted used=4 ' "noscript: next commit by EVALSHA"
assert_eq $(( ${before:-0} + 1 )) "$(evals)" "noscript: no further EVAL"
rcli SCRIPT FLUSH >/dev/null
assert_exit 0 probe check frank 150 1
assert_match "$T_OUT" '^fits used=4 ' "noscript: check works too"
assert_exit 0 probe undo frank F2
assert_match "$T_OUT" '^undone used=2 ' "noscript: undo works too"

# --- Redis confused or gone: an error, never "counted" -------------------------------

rcli SET "mh:{acct:gina}:used:$DAY" abc >/dev/null
assert_exit 1 probe commit gina 150 1 G1
assert_contains "$T_OUT" "error: quota commit: mh:{acct:gina}:used:$DAY is not a count" \
	"confused: a counter that is not a count is an error"
assert_eq 0 "$(rcli EXISTS 'mh:{acct:gina}:msg:G1')" "confused: ...and its message is not recorded"
assert_eq abc "$(counter gina "$DAY")" "confused: ...nor the counter changed"
rcli DEL "mh:{acct:gina}:used:$DAY" >/dev/null
rcli HSET 'mh:{acct:gina}:msg:G2' x 1 >/dev/null
assert_exit 1 probe commit gina 150 1 G2
assert_contains "$T_OUT" "error: quota commit: mh:{acct:gina}:msg:G2 is not a record" "confused: a record of the wrong type is an error"
assert_eq "" "$(counter gina "$DAY")" "confused: nothing counted"
assert_exit 1 probe commit 'gi na' 150 1 G3
assert_contains "$T_OUT" "error: account name has a space" "bad name: refused before Redis"

if [ "${SANITIZERS:-no}" = yes ]; then
	echo "# built with sanitizers: valgrind check skipped (ASan runs instead)"
elif command -v valgrind >/dev/null 2>&1; then
	rcli SCRIPT FLUSH >/dev/null
	run valgrind -q --error-exitcode=99 --leak-check=full "$PROBE" -c "$CONF" --count 3 commit vg 2 1 V
	assert_eq 0 "$T_RC" "valgrind: clean through NOSCRIPT, counted and refused"
	[ "$T_RC" = 0 ] || echo "$T_ERR" | sed 's/^/#   /'
fi

redis_stop main
assert_exit 1 probe commit alice 150 1 DOWN1
assert_match "$T_OUT" "^error: 127.0.0.1:$(redis_port main): " "down: an error naming Redis, not a verdict"

done_testing
