#!/bin/bash
# test_milter_cache.sh - mhmilter's local copies of its recipient lookups
# (milter/mcache.c), through a real Postfix and a real Redis, in a network
# namespace of its own: a repeated recipient check costs Redis nothing
# (counted in Redis's own INFO commandstats), and a change made with
# mhlist still applies at the next transaction, for every kind of copy
# (user list, domain setting, domain and global sender lists, a domain
# deleted); the invalidation connection killed or Redis restarted: no
# stale answer, copies again once it is back; FLUSHALL; and
# milter.cache_size = 0 (every lookup goes to Redis).
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"

MILTER=${MHMILTER:?MHMILTER: path of the built mhmilter}
MHLIST=${MHLIST:?}
DENIED="Sender address rejected: Access denied"

isolate_addr_add 192.0.2.10
sink_start dest 2525 --host 127.0.0.5
redis_start
MPORT=$(free_port)
CONF=$TMP/mhkit.conf
write_conf() {	# write_conf [MILTER-SETTINGS]
	mhkit_conf_write "$CONF" --redis 'timeout = "1s";' \
		"milter = { listen = \"inet:127.0.0.1:$MPORT\"; ${1:-} };"
}
write_conf
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null || fail "mhlist $*"; }
provision() {
	mh domain add example.com --service relay --dest mail.customer.example --port 2525 --userlist on
	mh domain add example.org --service relay --dest mail.customer.example --port 2525
	printf 'alice\nbob\n' >"$TMP/users"
	mh users import example.com "$TMP/users"
}
provision

start_milter() {	# start_milter [NAME]: its log is $TMP/NAME.log
	local name=${1:-mhmilter}
	start_bg "$name" "$MILTER" -c "$CONF" -f
	MILTER_PID=$BG_PID
	wait_until 10 grep -q "ready" "$TMP/$name.log" || hard_error "mhmilter did not start: $(cat "$TMP/$name.log")"
}
start_milter

postfix_start mx \
	'relay_domains = example.com example.org' \
	'transport_maps = inline:{ example.com=smtp:[127.0.0.5]:2525, example.org=smtp:[127.0.0.5]:2525 }' \
	"smtpd_milters = inet:127.0.0.1:$MPORT" \
	'milter_default_action = tempfail' 'milter_protocol = 6' \
	'mynetworks = 127.0.0.0/8'
MX=$(postfix_port mx)

send() { send_mail "$MX" "$1" "$2" --local-interface 192.0.2.10 "${@:3}"; }
rcpt_reply() { smtp_rcpt_reply "$1"; }
# assert_unknown RCPT MSG - the last transaction's reply to RCPT is the user-list refusal
assert_unknown() {
	assert_eq "550 5.1.1 <$1>: Recipient address rejected: User unknown" "$(rcpt_reply "$1")" "$2"
}
# calls NAME - how many times Redis ran command NAME (INFO commandstats)
calls() {
	redis_cli redis INFO commandstats | tr -d '\r' |
		sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p" | grep . || echo 0
}
# lookups - the recipient checks that reached Redis: HGETALL of a domain's settings
lookups() { calls hgetall; }
cache_on_lines() { grep -c "local cache on" "$TMP/mhmilter.log"; }

wait_until 10 eval '[ "$(cache_on_lines)" -ge 1 ]'
assert_contains "$(cat "$TMP/mhmilter.log")" "local cache on: invalidations from redis" "mhmilter: local cache on at start"
check_that "Redis: the invalidation connection subscribed" \
	'redis_cli redis PUBSUB CHANNELS | grep -qx "__redis__:invalidate"'

# --- a repeated check costs no Redis round trip ----------------------------------------
send sender@example.org alice@example.com
assert_match "$(rcpt_reply alice@example.com)" '^250 ' "a listed user accepted"
n0=$(lookups)
s0=$(calls smismember)
for i in 1 2 3; do
	send sender@example.org alice@example.com
	assert_match "$(rcpt_reply alice@example.com)" '^250 ' "the same check again ($i): accepted"
done
assert_eq "$n0" "$(lookups)" "three repeats: no HGETALL reached Redis (from the local copy)"
assert_eq "$s0" "$(calls smismember)" "...nor a sender-list SMISMEMBER"
send sender@example.org carol@example.com
assert_unknown carol@example.com "a local part not on the list refused"
send sender@example.org carol@example.com
assert_unknown carol@example.com "...again, from the copy"

# --- every change made with mhlist applies at the next transaction -------------------------
mh users del example.com alice
send sender@example.org alice@example.com
assert_unknown alice@example.com "mhlist users del: the copied 'listed' is gone at the next transaction"
mh users add example.com carol
send sender@example.org carol@example.com
assert_match "$(rcpt_reply carol@example.com)" '^250 ' "mhlist users add: the copied 'not listed' is gone"
mh domain set example.com --userlist off
send sender@example.org alice@example.com
assert_match "$(rcpt_reply alice@example.com)" '^250 ' "mhlist domain set --userlist off: applies at once"
mh domain set example.com --userlist on
send sender@example.org alice@example.com
assert_unknown alice@example.com "...and on again"
mh blacklist add example.com sender@example.org
send sender@example.org carol@example.com
assert_eq "550 5.7.1 <sender@example.org>: $DENIED" "$(rcpt_reply carol@example.com)" \
	"mhlist blacklist add (the domain's): applies at once"
mh blacklist del example.com sender@example.org
send sender@example.org carol@example.com
assert_match "$(rcpt_reply carol@example.com)" '^250 ' "...removed: accepted at once"
mh blacklist add --global @example.org
send sender@example.org carol@example.com
assert_eq "550 5.7.1 <sender@example.org>: $DENIED" "$(rcpt_reply carol@example.com)" \
	"mhlist blacklist add --global: applies at once"
mh whitelist add example.com sender@example.org
send sender@example.org carol@example.com
assert_match "$(rcpt_reply carol@example.com)" '^250 ' "mhlist whitelist add (the domain's beats the global blacklist): at once"
mh whitelist del example.com sender@example.org
mh blacklist del --global @example.org
BIG=$(head -c 30000 /dev/zero | tr '\0' x | fold -w 900)
send sender@example.org anyone@example.org --body "$BIG"
assert_match "$(smtp_data_reply)" '^250 ' "a 30 KB message to example.org accepted (its max_size copied)"
mh domain set example.org --max_size 20000
send sender@example.org anyone@example.org --body "$BIG"
assert_eq "552 5.3.4 Message size exceeds fixed limit" "$(smtp_data_reply)" \
	"mhlist domain set --max_size 20000: applies at the next transaction"
mh domain del example.org
send sender@example.org anyone@example.org
assert_match "$(rcpt_reply anyone@example.org)" '^250 ' "mhlist domain del: not ours to check any more (no stale max_size)"
mh domain add example.org --service relay --dest mail.customer.example --port 2525
n0=$(lookups)
send sender@example.org carol@example.com
send sender@example.org carol@example.com
assert_eq "$((n0 + 1))" "$(lookups)" "after all those changes: one lookup, then copies again"

# --- the invalidation connection lost: no copy until it is back --------------------------
redis_cli redis CLIENT KILL TYPE pubsub >/dev/null
wait_until 5 grep -q "local cache off: invalidation connection lost" "$TMP/mhmilter.log"
assert_contains "$(cat "$TMP/mhmilter.log")" "local cache off: invalidation connection lost" "invalidation connection killed: logged"
wait_until 10 eval '[ "$(cache_on_lines)" -ge 2 ]'
check_that "...subscribed again within a few seconds" '[ "$(cache_on_lines)" -ge 2 ]'
mh users del example.com carol
send sender@example.org carol@example.com
assert_unknown carol@example.com "...a change made meanwhile applies: the copies were forgotten"
n0=$(lookups)
send sender@example.org bob@example.com
send sender@example.org bob@example.com
assert_eq "$((n0 + 1))" "$(lookups)" "...and copies are kept again"

# --- Redis restarted empty: no copy of the old data answers ---------------------------------
send sender@example.org bob@example.com
assert_match "$(rcpt_reply bob@example.com)" '^250 ' "bob listed, accepted (copied)"
redis_restart
wait_until 10 eval '[ "$(cache_on_lines)" -ge 3 ]'
check_that "Redis restarted: the invalidation connection subscribed again" '[ "$(cache_on_lines)" -ge 3 ]'
mh domain add example.com --service relay --dest mail.customer.example --port 2525 --userlist on
mh users add example.com alice
send sender@example.org bob@example.com
assert_unknown bob@example.com "...provisioned again without bob: refused (the copy from before was forgotten)"

# --- FLUSHALL: every copy goes (Redis sends a nil invalidation) -----------------------------
send sender@example.org carol@example.com
assert_unknown carol@example.com "carol not listed: refused (copied)"
redis_cli redis FLUSHALL >/dev/null
send sender@example.org carol@example.com
assert_match "$(rcpt_reply carol@example.com)" '^250 ' \
	"FLUSHALL: the domain is gone, not ours to check: accepted (a stale copy would refuse)"
provision
send sender@example.org carol@example.com
assert_unknown carol@example.com "...provisioned again: refused"
check "mhmilter still running" pid_alive "$MILTER_PID"
# SIGTERM: libmilter's listener looks at its stop flag every 5 s; the tracker thread ends within 0.2 s
kill -TERM "$MILTER_PID"
wait_until 12 eval '! pid_alive "$MILTER_PID"'
check_that "mhmilter: SIGTERM stops it (its tracker thread too)" '! pid_alive "$MILTER_PID"'
assert_contains "$(cat "$TMP/mhmilter.log")" "mhmilter: stopped" "...logged 'stopped'"
stop_pid "$MILTER_PID"

# --- milter.cache_size = 0: every lookup goes to Redis ---------------------------------------
write_conf 'cache_size = 0;'
start_milter mhmilter0
assert_contains "$(cat "$TMP/mhmilter0.log")" "local cache off: milter.cache_size is 0" "cache_size 0: logged at start"
n0=$(lookups)
send sender@example.org bob@example.com
send sender@example.org bob@example.com
assert_eq "$((n0 + 2))" "$(lookups)" "cache_size 0: each check reads Redis"
assert_match "$(rcpt_reply bob@example.com)" '^250 ' "...and answers the same"

done_testing
