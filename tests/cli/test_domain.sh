#!/bin/bash
# mhlist domain add|set|show|list|del against a real redis-server.
. "${TESTS_LIB:?}/common.sh"
. "$TESTS_LIB/redis.sh"
need_cmd jq

redis_start
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF"
mh() { "${MHLIST:?}" -c "$CONF" "$@"; }
rc() { redis_cli redis "$@"; }

# add a relay domain: one line for people, the settings hash in Redis
assert_exit 0 mh domain add Example.COM --service relay --dest mx.customer.example --port 2525
assert_eq "domain example.com added" "$T_OUT" "add prints what it did, name lowercased"
assert_eq "relay" "$(rc HGET 'mh:{example.com}:cfg' service)" "service stored under the domain's hash tag"
assert_eq "2525" "$(rc HGET 'mh:{example.com}:cfg' port)" "port stored"
assert_eq "mx.customer.example" "$(rc HGET 'mh:{example.com}:cfg' dest)" "dest stored"
assert_eq "" "$(rc HGET 'mh:{example.com}:cfg' tag_limit)" "defaults are not stored"
assert_eq "1" "$(rc SISMEMBER mh:domains example.com)" "domain indexed"

# show: table with sources; JSON typed
assert_exit 0 mh domain show example.com
assert_match "$T_OUT" '^port +2525 +set$' "show: port 2525 set"
assert_match "$T_OUT" '^tag_limit +5\.0 +default$' "show: tag_limit default 5.0"
assert_match "$T_OUT" '^max_size +10M +default$' "show: max_size default 10M"
assert_match "$T_OUT" '^subject_tag +\[SPAM\] +default$' "show: subject_tag default"
assert_exit 0 mh --json domain show example.com
assert_eq "2525" "$(jq -r .port <<<"$T_OUT")" "json: port is a number"
assert_eq "true" "$(jq -r .callahead <<<"$T_OUT")" "json: callahead default true"
assert_eq "10485760" "$(jq -r .max_size <<<"$T_OUT")" "json: max_size in bytes"
assert_eq '["service","dest","port"]' "$(jq -c .set <<<"$T_OUT")" "json: which settings are set"

# set: changes only what is named, validated
assert_exit 0 mh domain set example.com --tag-limit 6.5 --discard_limit 12 --dnsbls "zen.example.net, bl.example.org" --spf reject --max_size 20M --userlist on
assert_eq "domain example.com updated" "$T_OUT" "set prints what it did"
assert_eq "6.5" "$(rc HGET 'mh:{example.com}:cfg' tag_limit)" "tag_limit stored"
assert_eq "zen.example.net,bl.example.org" "$(rc HGET 'mh:{example.com}:cfg' dnsbls)" "dnsbls stored canonical"
assert_eq "20M" "$(rc HGET 'mh:{example.com}:cfg' max_size)" "max_size stored"
assert_eq "2525" "$(rc HGET 'mh:{example.com}:cfg' port)" "port untouched by set"
assert_exit 0 mh --json domain show example.com
assert_eq "20971520" "$(jq -r .max_size <<<"$T_OUT")" "json: 20M = 20971520 bytes"
assert_eq '["zen.example.net","bl.example.org"]' "$(jq -c .dnsbls <<<"$T_OUT")" "json: dnsbls array"

# a changed default in mhkit.conf reaches domains that did not set it
mhkit_conf_write "$TMP/other.conf" 'defaults = { tag_limit = 3.0; subject_tag = "[SPAM?]"; };'
run "$MHLIST" -c "$TMP/other.conf" --json domain show example.com
assert_eq "6.5" "$(jq -r .tag_limit <<<"$T_OUT")" "tag_limit set on the domain wins over defaults"
assert_eq "[SPAM?]" "$(jq -r .subject_tag <<<"$T_OUT")" "unset subject_tag follows defaults.subject_tag"

# bad values: exit 65 naming the setting and value, nothing written
assert_exit 65 mh domain set example.com --port 70000
assert_contains "$T_ERR" 'port: bad value "70000"' "bad port named"
assert_exit 65 mh domain set example.com --spam maybe
assert_contains "$T_ERR" 'must be on or off' "bad bool explained"
assert_exit 65 mh domain set example.com --tag_limit 6 --spf sometimes
assert_eq "6.5" "$(rc HGET 'mh:{example.com}:cfg' tag_limit)" "a bad value later on the line writes nothing"
assert_exit 65 mh domain set example.com --max_size 10X
assert_exit 65 mh domain set example.com --dnsbls "bad..zone"
assert_exit 64 mh domain set example.com --colour blue
assert_contains "$T_ERR" 'unknown setting "--colour"' "unknown setting named"
assert_contains "$T_ERR" "usage:" "usage printed"
assert_exit 64 mh domain set example.com
assert_exit 64 mh domain set example.com --port
assert_exit 65 mh domain set nosuch.example --port 25
assert_contains "$T_ERR" "domain nosuch.example not found" "set on unknown domain"

# add: needs --service, relay needs --dest; duplicate refused
assert_exit 64 mh domain add other.example --dest mx.other.example
assert_exit 65 mh domain add other.example --service relay
assert_contains "$T_ERR" "needs --dest" "relay without dest refused"
assert_eq "0" "$(rc EXISTS 'mh:{other.example}:cfg')" "nothing written for a refused add"
assert_exit 65 mh domain add example.com --service relay --dest mx.example.net
assert_contains "$T_ERR" "already exists" "duplicate add refused"
assert_exit 65 mh domain add "bad_domain!" --service backup
assert_exit 65 mh domain add singlelabel --service backup
# an IP address dest is accepted with a warning
assert_exit 0 mh domain add ip.example --service relay --dest 192.0.2.10
assert_contains "$T_ERR" "warning: ip.example: dest 192.0.2.10 is an IP address" "IP dest warned"
assert_exit 0 mh domain add backup.example --service backup

# list: sorted table and JSON array
assert_exit 0 mh domain list
assert_eq "DOMAIN" "$(head -n1 <<<"$T_OUT" | awk '{print $1}')" "list has a header"
assert_eq "backup.example example.com ip.example" "$(tail -n +2 <<<"$T_OUT" | awk '{print $1}' | xargs)" "list sorted"
assert_match "$T_OUT" '^example\.com +relay +mx\.customer\.example +2525 +on +on$' "list row for example.com"
assert_exit 0 mh --json domain list
assert_eq "3" "$(jq length <<<"$T_OUT")" "json list has three domains"
assert_eq "backup" "$(jq -r '.[0].service' <<<"$T_OUT")" "json list: backup.example first"

# del: removes every key of the domain
mh users add example.com alice >/dev/null
mh whitelist add example.com @friend.example >/dev/null
assert_exit 0 mh domain del example.com
assert_eq "0" "$(rc EXISTS 'mh:{example.com}:cfg' 'mh:{example.com}:users' 'mh:{example.com}:white')" "all keys of the domain gone"
assert_eq "0" "$(rc SISMEMBER mh:domains example.com)" "unindexed"
assert_exit 65 mh domain del example.com
assert_contains "$T_ERR" "not found" "deleting twice says not found"
assert_exit 0 mh --json domain del ip.example
assert_eq "deleted" "$(jq -r .result <<<"$T_OUT")" "json del result"

# help
assert_exit 0 mh domain --help
assert_contains "$T_OUT" "mhlist domain add DOMAIN --service relay|backup" "domain --help on stdout"

done_testing
