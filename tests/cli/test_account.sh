#!/bin/bash
# mhlist account add|set|show|list|del against real Redis, and today's use
# (used_today, left, resets_at) that show and list read through the quota
# CHECK script, with the day taken from Redis's TIME.
. "${TESTS_LIB:?}/common.sh"
. "$TESTS_LIB/redis.sh"
need_cmd jq

redis_start
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF"
mh() { "${MHLIST:?}" -c "$CONF" "$@"; }
rc() { redis_cli redis "$@"; }
# redis_now - Redis's clock, unix seconds (what the quota scripts use)
redis_now() { rc TIME | head -n 1; }
# iso_midnight_after SECONDS - the next 00:00 UTC, as account show prints it
iso_midnight_after() { date -u -d "@$(( ($1 / 86400 + 1) * 86400 ))" +%Y-%m-%dT%H:%M:%SZ; }
# today_key USER - today's counter, mh:{acct:USER}:used:DAY
today_key() { echo "mh:{acct:$1}:used:$(( $(redis_now) / 86400 ))"; }

# counts written below must land on the day that show reads: start at
# least 20 s before 00:00 UTC by Redis's clock (waits at most 20 s)
left_today=$(( 86400 - $(redis_now) % 86400 ))
[ "$left_today" -lt 20 ] && sleep "$left_today"

assert_exit 0 mh account add bob --blocks 2
assert_eq "account bob added: 2 blocks, 300 relays a day" "$T_OUT" "add: limit is blocks x 150"
assert_eq "2" "$(rc HGET 'mh:{acct:bob}:cfg' blocks)" "blocks under the account's hash tag"
assert_eq "1" "$(rc SISMEMBER mh:accounts bob)" "indexed"
assert_exit 65 mh account add bob --blocks 1
assert_contains "$T_ERR" "already exists" "duplicate refused"
assert_exit 0 mh account add Alice@Example.COM --blocks 1
assert_eq "1" "$(rc SISMEMBER mh:accounts Alice@Example.COM)" "account names keep their case (SASL compares exactly)"

assert_exit 0 mh account show bob
assert_match "$T_OUT" '^limit +300 relays/day$' "show: limit"
assert_match "$T_OUT" '^enabled +on$' "show: enabled"
assert_exit 0 mh --json account show bob
assert_eq "300" "$(jq .limit <<<"$T_OUT")" "json: limit"
assert_eq "true" "$(jq .enabled <<<"$T_OUT")" "json: enabled"

# today's use: a fresh account has used nothing
reset=$(iso_midnight_after "$(redis_now)")
assert_exit 0 mh account show bob
assert_match "$T_OUT" '^used_today +0$' "show: fresh account used 0"
assert_match "$T_OUT" '^left +300$' "show: left = limit"
assert_match "$T_OUT" "^resets_at +$reset\$" "show: resets at the next 00:00 UTC by Redis's clock ($reset)"
assert_exit 0 mh --json account show bob
assert_eq "0 300 300 $reset" "$(jq -r '"\(.used_today) \(.limit) \(.left) \(.resets_at)"' <<<"$T_OUT")" \
	"json: used_today, limit, left, resets_at"
assert_eq "number number number string" \
	"$(jq -r '[.used_today, .limit, .left, .resets_at] | map(type) | join(" ")' <<<"$T_OUT")" \
	"json: counts are JSON numbers"
assert_eq "bob 2 true" "$(jq -r '"\(.account) \(.blocks) \(.enabled)"' <<<"$T_OUT")" "json: earlier fields kept"

# relays counted by the quota core (as mhpolicyd does at END-OF-MESSAGE)
run "${QUOTA_PROBE:?}" -c "$CONF" commit bob 300 7 Q1
assert_contains "$T_OUT" "counted used=7" "probe counted 7 relays"
assert_exit 0 mh account show bob
assert_match "$T_OUT" '^used_today +7$' "show: counted relays reported"
assert_match "$T_OUT" '^left +293$' "show: left = limit - used"
assert_exit 0 mh --json account show bob
assert_eq "7 293" "$(jq -r '"\(.used_today) \(.left)"' <<<"$T_OUT")" "json: used and left after counting"
assert_exit 0 mh account list
assert_eq "bob 300 7 293" "$(awk '$1 == "bob" {print $1, $3, $4, $5}' <<<"$T_OUT")" "list: LIMIT USED LEFT"
assert_match "$T_OUT" '^ACCOUNT +BLOCKS +LIMIT +USED +LEFT +ENABLED$' "list: header"
assert_exit 0 mh --json account list
assert_eq "7 293 $reset" "$(jq -r '.[] | select(.account == "bob") | "\(.used_today) \(.left) \(.resets_at)"' <<<"$T_OUT")" \
	"json list: today's use"

# the counter written directly (the key the scripts use): past the limit -> left 0
rc SET "$(today_key Alice@Example.COM)" 200 >/dev/null
assert_exit 0 mh --json account show Alice@Example.COM
assert_eq "200 150 0" "$(jq -r '"\(.used_today) \(.limit) \(.left)"' <<<"$T_OUT")" "over the limit: left 0, never negative"
# yesterday's counter is not today's
rc SET "mh:{acct:bob}:used:$(( $(redis_now) / 86400 - 1 ))" 99 >/dev/null
assert_exit 0 mh --json account show bob
assert_eq "7" "$(jq .used_today <<<"$T_OUT")" "yesterday's counter not counted today"

# a counter that is not a count: 65 naming the account, no half output
rc SET "$(today_key Alice@Example.COM)" many >/dev/null
assert_exit 65 mh account show Alice@Example.COM
assert_contains "$T_ERR" "account Alice@Example.COM" "bad counter: account named"
assert_contains "$T_ERR" "is not a count" "bad counter: why"
assert_exit 65 mh account list
assert_eq "" "$T_OUT" "list: nothing printed when a row fails"
rc SET "$(today_key Alice@Example.COM)" 200 >/dev/null

assert_exit 0 mh account set bob --blocks 4 --enabled off
assert_eq "account bob updated: 4 blocks, 0 relays a day (disabled)" "$T_OUT" "set: disabled account has no relays"
assert_eq "off" "$(rc HGET 'mh:{acct:bob}:cfg' enabled)" "enabled stored"
assert_exit 0 mh account show bob
assert_match "$T_OUT" '^limit +0 relays/day$' "disabled: limit 0"
assert_match "$T_OUT" '^left +0$' "disabled: left 0"
assert_exit 0 mh --json account show bob
assert_eq "7 0 0" "$(jq -r '"\(.used_today) \(.limit) \(.left)"' <<<"$T_OUT")" "json disabled: used kept, limit 0, left 0"
relays_per_block_conf=$TMP/rpb.conf
mhkit_conf_write "$relays_per_block_conf" 'outbound = { relays_per_block = 200; };'
"$MHLIST" -c "$relays_per_block_conf" account set bob --enabled on >/dev/null
run "$MHLIST" -c "$relays_per_block_conf" --json account show bob
assert_eq "800" "$(jq .limit <<<"$T_OUT")" "limit follows outbound.relays_per_block"

assert_exit 0 mh account list
assert_eq "ACCOUNT Alice@Example.COM bob" "$(awk '{print $1}' <<<"$T_OUT" | xargs)" "list sorted with header"
assert_exit 0 mh --json account list
assert_eq "2" "$(jq length <<<"$T_OUT")" "json list"

# bad input
assert_exit 64 mh account add carol
assert_contains "$T_ERR" "needs --blocks" "add without --blocks"
assert_exit 65 mh account add carol --blocks -1
assert_exit 65 mh account add carol --blocks many
assert_exit 65 mh account add carol --blocks 1000001
assert_exit 65 mh account add 'car ol' --blocks 1
assert_exit 65 mh account add 'x{y}' --blocks 1
assert_exit 65 mh account add "$(printf 'a%.0s' {1..256})" --blocks 1
assert_exit 65 mh account set nobody --blocks 1
assert_contains "$T_ERR" "account nobody not found" "set unknown"
assert_exit 65 mh account set bob --enabled perhaps
assert_exit 64 mh account set bob --colour red
assert_exit 64 mh account set bob
assert_eq "0" "$(rc EXISTS 'mh:{acct:carol}:cfg')" "nothing written for refused adds"

assert_exit 0 mh account del bob
assert_eq "0" "$(rc EXISTS 'mh:{acct:bob}:cfg')" "del removes the account"
assert_exit 65 mh account del bob
assert_exit 65 mh account show bob
assert_contains "$T_ERR" "account bob not found" "show unknown"

# Redis down: 69 with the address tried
redis_stop
assert_exit 69 mh account show Alice@Example.COM
assert_contains "$T_ERR" "Redis unavailable: 127.0.0.1:$REDIS_PORT" "show, Redis down: address named"
assert_eq "" "$T_OUT" "show, Redis down: nothing on stdout"
assert_exit 69 mh --json account list

done_testing
