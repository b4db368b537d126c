#!/bin/bash
# mhlist cache show|purge against a real redis-server: verdict keys written
# with redis-cli in mhpolicyd's format (common/cacache.c), shown as a table
# and as JSON, purged by address and by domain (other keys untouched), the
# purge done by `domain set` of dest, port and callahead, and bad arguments.
. "${TESTS_LIB:?}/common.sh"
. "$TESTS_LIB/redis.sh"
need_cmd jq

redis_start
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF"
mh() { "${MHLIST:?}" -c "$CONF" "$@"; }
rc() { redis_cli redis "$@"; }
exists() { rc EXISTS "$1"; }
jqe() { jq -e "$1" <<<"$2" >/dev/null; }	# jqe FILTER JSON - the filter holds
DEST=mx.customer.example:2525

mh domain add example.com --service relay --dest mx.customer.example --port 2525 >/dev/null
mh domain add other.example --service backup >/dev/null

# seed - the keys. Ages and expiries of an hour or more, shown to the
# minute, with 30 s to spare: the table does not change while the test runs
now=$(date +%s)
seed() {
	rc SET 'mh:{example.com}:ca:bob' \
		"reject $((now - 7200)) 550 $DEST 5.1.1 <bob@example.com>: Recipient address rejected: User unknown" \
		PX 3630000 >/dev/null
	rc SET 'mh:{example.com}:ca:alice' "accept $((now - 259200)) 250 $DEST 2.1.5 Ok" PX 345630000 >/dev/null
	rc SET 'mh:{example.com}:ca:erin' "tempfail $((now - 18000)) 0 $DEST connect: Connection refused" >/dev/null
	rc SET 'mh:{example.com}:ca:"john doe"' "accept $((now - 18000)) 250 $DEST " PX 7230000 >/dev/null
	rc SET 'mh:{example.com}:ca:dave' "maybe 123 250 x:25 hi" PX 3630000 >/dev/null
	rc SET 'mh:{example.com}:ca:a*b' "accept $((now - 3600)) 250 $DEST star" PX 3630000 >/dev/null
	rc SET 'mh:{example.com}:ca:axb' "accept $((now - 3600)) 250 $DEST x" PX 3630000 >/dev/null
	rc SET 'mh:{example.com}:calock:bob' "node1 192.0.2.1" PX 60000 >/dev/null
	rc SET 'mh:{other.example}:ca:bob' "accept $((now - 3600)) 250 mx.other.example:25 ok" PX 3600000 >/dev/null
}
seed
rc HSET 'mh:{example.com}:ca:frank' a b >/dev/null

# --- show ADDRESS --------------------------------------------------------------

assert_exit 0 mh cache show Bob@Example.COM
assert_eq "ADDRESS          VERDICT  AGE    EXPIRES  WHERE                     CODE  TEXT
bob@example.com  reject   2h00m  1h00m    $DEST  550   5.1.1 <bob@example.com>: Recipient address rejected: User unknown" \
	"$T_OUT" "show ADDRESS: one row, address canonical"
assert_exit 0 mh --json cache show bob@example.com
assert_eq "bob@example.com" "$(jq -r .address <<<"$T_OUT")" "json: address"
assert_eq 1 "$(jq '.verdicts | length' <<<"$T_OUT")" "json: one verdict"
assert_eq "reject $((now - 7200)) 550 $DEST" \
	"$(jq -r '.verdicts[0] | "\(.verdict) \(.at) \(.code) \(.where)"' <<<"$T_OUT")" "json: verdict, at, code, where"
assert_eq "5.1.1 <bob@example.com>: Recipient address rejected: User unknown" \
	"$(jq -r '.verdicts[0].text' <<<"$T_OUT")" "json: text"
check "json: age 7200 s (+ run time)" jqe '.verdicts[0].age >= 7200 and .verdicts[0].age <= 7230' "$T_OUT"
check "json: expires_in 3630 s (- run time)" jqe '.verdicts[0].expires_in <= 3630 and .verdicts[0].expires_in >= 3600' "$T_OUT"

# a glob character in the local part is the key's own name, not a pattern
assert_exit 0 mh cache show 'a*b@example.com'
assert_eq 2 "$(printf '%s\n' "$T_OUT" | wc -l)" "show a*b: header and one row"
assert_match "$T_OUT" '^a\*b@example\.com +accept .* star$' "show a*b: its own verdict only"

# a quoted local part, as the address parser writes it
assert_exit 0 mh cache show '"John Doe"@example.com'
assert_match "$T_OUT" '^"john doe"@example\.com +accept +5h00m +2h00m +mx\.customer\.example:2525 +250 +-$' \
	"quoted local part, empty text shown as -"

# nothing cached: said so, exit 0
assert_exit 0 mh cache show nobody@example.com
assert_eq "no cached call-ahead verdict for nobody@example.com" "$T_OUT" "nothing cached: said so"
assert_exit 0 mh --json cache show nobody@example.com
assert_eq '{"address":"nobody@example.com","verdicts":[]}' "$(jq -c . <<<"$T_OUT")" "json: nothing cached"
assert_exit 0 mh cache show @nosuch.example
assert_eq "no cached call-ahead verdicts for @nosuch.example" "$T_OUT" "no verdicts for a domain (need not exist)"

# --- show @DOMAIN ----------------------------------------------------------------

assert_exit 0 mh cache show @Example.COM
assert_eq "ADDRESS                 VERDICT     AGE    EXPIRES  WHERE                     CODE  TEXT
\"john doe\"@example.com  accept      5h00m  2h00m    $DEST  250   -
a*b@example.com         accept      1h00m  1h00m    $DEST  250   star
alice@example.com       accept      3d00h  4d00h    $DEST  250   2.1.5 Ok
axb@example.com         accept      1h00m  1h00m    $DEST  250   x
bob@example.com         reject      2h00m  1h00m    $DEST  550   5.1.1 <bob@example.com>: Recipient address rejected: User unknown
dave@example.com        unreadable  -      1h00m    -                         -     maybe 123 250 x:25 hi
erin@example.com        tempfail    5h00m  never    $DEST  -     connect: Connection refused
frank@example.com       unreadable  -      never    -                         -     (not a string)" \
	"$T_OUT" "show @DOMAIN: every verdict sorted, unreadable ones shown, lock key left out"
assert_eq "" "$T_ERR" "show @DOMAIN: nothing on stderr"
assert_exit 0 mh --json cache show @example.com
assert_eq "example.com" "$(jq -r .domain <<<"$T_OUT")" "json: domain"
assert_eq "false" "$(jq -r .truncated <<<"$T_OUT")" "json: not truncated"
assert_eq 8 "$(jq '.verdicts | length' <<<"$T_OUT")" "json: 8 verdicts"
assert_eq "unreadable maybe 123 250 x:25 hi" \
	"$(jq -r '.verdicts[] | select(.address == "dave@example.com") | "\(.verdict) \(.value)"' <<<"$T_OUT")" \
	"json: unreadable value, sanitised"
check "json: an unreadable value's expiry" \
	jqe '.verdicts[] | select(.address == "dave@example.com") | .expires_in > 3500' "$T_OUT"
assert_eq "tempfail null null connect: Connection refused" \
	"$(jq -r '.verdicts[] | select(.address == "erin@example.com") | "\(.verdict) \(.code) \(.expires_in) \(.text)"' <<<"$T_OUT")" \
	"json: code 0 and no expiry are null"

# control characters and 8-bit bytes never reach the terminal or break the JSON
printf 'reject %s 550 %s 5.1.1 \033[31mred\033[0m caf\303\251 "q"' $((now - 3600)) "$DEST" |
	rc -x SET 'mh:{example.com}:ca:eve' >/dev/null
printf 'tempfail 1 0 h\033:25 x' | rc -x SET 'mh:{example.com}:ca:eve2' >/dev/null
assert_exit 0 mh cache show eve@example.com
assert_match "$T_OUT" "5\\.1\\.1 \\[31mred\\[0m caf 'q'\$" "remote text sanitised"
assert_exit 0 mh --json cache show @example.com
check "json with sanitised text parses" jqe '.verdicts | length == 10' "$T_OUT"
assert_eq "unreadable" "$(jq -r '.verdicts[] | select(.address == "eve2@example.com") | .verdict' <<<"$T_OUT")" \
	"a where with a control character is unreadable"
rc DEL 'mh:{example.com}:ca:eve' 'mh:{example.com}:ca:eve2' 'mh:{example.com}:ca:frank' >/dev/null

# --- purge ---------------------------------------------------------------------

assert_exit 0 mh cache purge BOB@example.com
assert_eq "purged 1 cached call-ahead verdict for bob@example.com" "$T_OUT" "purge ADDRESS"
assert_eq 0 "$(exists 'mh:{example.com}:ca:bob')" "its key is gone"
assert_eq 1 "$(exists 'mh:{example.com}:calock:bob')" "its probe lock is not touched"
assert_eq 1 "$(exists 'mh:{other.example}:ca:bob')" "the same local part of another domain is not touched"
assert_exit 0 mh --json cache purge bob@example.com
assert_eq '{"address":"bob@example.com","purged":0}' "$(jq -c . <<<"$T_OUT")" "json: purge again, 0"
assert_exit 0 mh cache purge 'a*b@example.com'
assert_eq "purged 1 cached call-ahead verdict for a*b@example.com" "$T_OUT" "purge a*b"
assert_eq 1 "$(exists 'mh:{example.com}:ca:axb')" "purge a*b leaves axb"

assert_exit 0 mh cache purge @example.com
assert_eq "purged 5 cached call-ahead verdicts for @example.com" "$T_OUT" "purge @DOMAIN counts"
assert_eq "" "$(rc --scan --pattern 'mh:{example.com}:ca:*')" "no verdict of the domain left"
assert_eq 1 "$(exists 'mh:{example.com}:calock:bob')" "the lock is not a verdict"
assert_eq 1 "$(exists 'mh:{other.example}:ca:bob')" "other domains untouched"
assert_exit 0 mh --json cache purge @example.com
assert_eq '{"domain":"example.com","purged":0}' "$(jq -c . <<<"$T_OUT")" "json: purge @DOMAIN again, 0"

# many keys: SCAN batches; show stops at its limit and says so
for i in $(seq 1 10050); do
	printf 'SET mh:{big.example}:ca:u%05d "accept %s 250 mx.big.example:25 ok" PX 3600000\n' "$i" "$now"
done | rc --pipe >/dev/null
assert_exit 0 mh --json cache show @big.example
assert_eq "true 10000" "$(jq -r '"\(.truncated) \(.verdicts | length)"' <<<"$T_OUT")" "json: show stops at 10,000"
assert_contains "$T_ERR" "more than 10000 cached call-ahead verdicts for @big.example" "the limit is said on stderr"
assert_exit 0 mh cache purge @big.example
assert_eq "purged 10050 cached call-ahead verdicts for @big.example" "$T_OUT" "purge has no limit"
assert_eq 0 "$(rc DBSIZE | awk '{print ($1 > 100)}')" "all of them gone"

# --- domain set purges what a new destination makes stale -----------------------

seed
assert_exit 0 mh domain set example.com --port 2526
assert_eq "domain example.com updated
purged 7 cached call-ahead verdicts for @example.com" "$T_OUT" "domain set --port purges"
assert_eq "" "$(rc --scan --pattern 'mh:{example.com}:ca:*')" "no verdict left after a port change"
assert_eq 1 "$(exists 'mh:{other.example}:ca:bob')" "other domains untouched by domain set"

seed
assert_exit 0 mh domain set example.com --tag_limit 7
assert_eq "domain example.com updated" "$T_OUT" "domain set of another setting: no purge"
assert_eq 1 "$(exists 'mh:{example.com}:ca:bob')" "verdicts kept"

assert_exit 0 mh --json domain set example.com --dest mx2.customer.example
assert_eq "updated 7 2526" "$(jq -r '"\(.result) \(.purged) \(.port)"' <<<"$T_OUT")" "json domain set --dest: purged in the document"
assert_eq 0 "$(exists 'mh:{example.com}:ca:bob')" "purged after a dest change"

seed
assert_exit 0 mh domain set example.com --callahead off
assert_contains "$T_OUT" "purged 7 cached call-ahead verdicts for @example.com" "domain set --callahead purges"
assert_exit 0 mh --json domain set example.com --spam off
assert_eq "null" "$(jq -r .purged <<<"$T_OUT")" "json domain set of another setting: no purged field"

# a failed set purges nothing
seed
assert_exit 65 mh domain set example.com --port 70000
assert_eq 1 "$(exists 'mh:{example.com}:ca:bob')" "a refused set leaves the verdicts"

# --- bad arguments ---------------------------------------------------------------

assert_exit 64 mh cache
assert_contains "$T_ERR" "cache needs a subcommand" "no subcommand"
assert_exit 64 mh cache flush @example.com
assert_contains "$T_ERR" 'unknown subcommand "cache flush"' "unknown subcommand"
assert_exit 64 mh cache show
assert_contains "$T_ERR" "cache show needs exactly one ADDRESS or @DOMAIN" "show without an argument"
assert_exit 64 mh cache purge a@example.com b@example.com
assert_contains "$T_ERR" "cache purge needs exactly one ADDRESS or @DOMAIN" "purge with two arguments"
assert_exit 64 mh cache show bob
assert_contains "$T_ERR" '"bob" is neither an ADDRESS (local@domain) nor @DOMAIN' "a bare word"
assert_contains "$T_ERR" "mhlist cache show ADDRESS|@DOMAIN" "usage follows"
assert_exit 64 mh cache purge example.com
assert_contains "$T_ERR" '"example.com" is neither an ADDRESS' "a domain without @"
assert_exit 65 mh cache show 'bad<x@example.com'
assert_contains "$T_ERR" 'bad address "bad<x@example.com"' "malformed address: bad data, named"
assert_exit 65 mh cache purge 'bob@singlelabel'
assert_contains "$T_ERR" 'bad domain "singlelabel"' "single-label domain refused"
assert_exit 65 mh cache purge '@bad..example'
assert_contains "$T_ERR" 'bad domain "bad..example"' "malformed @DOMAIN"
assert_exit 65 mh cache show 'bob@[192.0.2.1]'
assert_exit 65 mh cache show "$(printf 'a%.0s' {1..65})@example.com"
assert_exit 0 mh cache --help
assert_contains "$T_OUT" "mhlist cache purge ADDRESS|@DOMAIN" "cache --help on stdout"

# Redis down: 69, naming the address
port=$(free_port)
mhkit_conf_write "$TMP/down.conf" --no-redis "redis = { host = \"127.0.0.1\"; port = $port; timeout = \"500ms\"; };"
assert_exit 69 "$MHLIST" -c "$TMP/down.conf" cache purge @example.com
assert_contains "$T_ERR" "127.0.0.1:$port" "Redis unavailable names the address"

done_testing
