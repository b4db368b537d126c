#!/bin/bash
# mhlist whitelist|blacklist add|del|list, per domain and --global, against real Redis.
. "${TESTS_LIB:?}/common.sh"
. "$TESTS_LIB/redis.sh"
need_cmd jq

redis_start
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF"
mh() { "${MHLIST:?}" -c "$CONF" "$@"; }
rc() { redis_cli redis "$@"; }
set_of() { rc SMEMBERS "$1" | sort | xargs; }

mh domain add example.com --service relay --dest mx.example.net >/dev/null

# every entry kind, stored canonical
assert_exit 0 mh whitelist add example.com Bob@Example.ORG @Partner.example .trusted.example 192.0.2.7 198.51.100.0/24 2001:DB8::/32 ::ffff:192.0.2.9
assert_eq "example.com whitelist: 7 added" "$T_OUT" "whitelist add counts"
assert_eq ".trusted.example 192.0.2.7 192.0.2.9 198.51.100.0/24 2001:db8::/32 @partner.example bob@example.org" \
	"$(set_of 'mh:{example.com}:white')" "entries canonical (lowercase, IPv6 compressed, mapped IPv4 as IPv4)"
assert_exit 0 mh blacklist add --global @spam.example 203.0.113.0/24
assert_eq "203.0.113.0/24 @spam.example" "$(set_of 'mh:{@global}:black')" "global blacklist under its own tag"
assert_exit 0 mh blacklist list --global
assert_eq $'203.0.113.0/24\n@spam.example' "$T_OUT" "global list sorted"
assert_exit 0 mh --json whitelist list example.com
assert_eq "7" "$(jq '.entries | length' <<<"$T_OUT")" "json list entries"
assert_eq "example.com" "$(jq -r .scope <<<"$T_OUT")" "json list scope"
assert_exit 0 mh whitelist del example.com 192.0.2.7 bob@example.org
assert_eq "example.com whitelist: 2 deleted" "$T_OUT" "del counts"

# malformed entries: exit 65 naming the value, nothing written
assert_exit 65 mh blacklist add example.com 10.0.0.1/8
assert_contains "$T_ERR" 'bad entry "10.0.0.1/8"' "CIDR with host bits named"
assert_contains "$T_ERR" "10.0.0.0/8" "and the fix suggested"
assert_exit 65 mh blacklist add example.com 192.0.2.0/33
assert_exit 65 mh blacklist add example.com 2001:db8::/129
assert_exit 65 mh blacklist add example.com ok@example.org 'not an entry'
assert_eq "0" "$(rc EXISTS 'mh:{example.com}:black')" "nothing written when one entry is bad"
assert_exit 65 mh blacklist add example.com '@'
assert_exit 65 mh blacklist add example.com '.'
assert_exit 65 mh blacklist add example.com 300.1.2.3
assert_exit 65 mh whitelist add nosuch.example @x.example
assert_contains "$T_ERR" "domain nosuch.example not found" "unknown domain"

# usage errors
assert_exit 64 mh whitelist add example.com
assert_exit 64 mh whitelist list
assert_exit 64 mh whitelist show example.com
assert_exit 64 mh whitelist add --globl @x.example
assert_exit 0 mh whitelist --help
assert_contains "$T_OUT" "whitelist add|del DOMAIN|--global ENTRY" "help"

done_testing
