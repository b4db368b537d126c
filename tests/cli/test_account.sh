#!/bin/bash
# mhlist account add|set|show|list|del against real Redis.
. "${TESTS_LIB:?}/common.sh"
. "$TESTS_LIB/redis.sh"
need_cmd jq

redis_start
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF"
mh() { "${MHLIST:?}" -c "$CONF" "$@"; }
rc() { redis_cli redis "$@"; }

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

assert_exit 0 mh account set bob --blocks 4 --enabled off
assert_eq "account bob updated: 4 blocks, 0 relays a day (disabled)" "$T_OUT" "set: disabled account has no relays"
assert_eq "off" "$(rc HGET 'mh:{acct:bob}:cfg' enabled)" "enabled stored"
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

done_testing
