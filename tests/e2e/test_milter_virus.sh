#!/bin/bash
# test_milter_virus.sh - mhmilter's virus scan through a real Postfix, a
# real Redis and a real clamd (Debian: clamav-daemon) with a signature
# database the test writes (nothing downloaded): the message streams to
# clamd as Postfix hands it over; a signature in a base64 attachment ->
# 554 5.7.1 Message rejected: virus NAME found; a clean message arrives;
# a domain with `virus off` and a backup domain are not scanned; clamd
# down -> milter.on_scanner_error (accept, logged; tempfail -> 451 4.7.1).
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"

MILTER=${MHMILTER:?MHMILTER: path of the built mhmilter}
MHLIST=${MHLIST:?}
. "$TESTS_LIB/clamd.sh"

clamd_start
SOCK=$CLAMD_SOCK NAME=$CLAMD_SIG_NAME
clamd_mail_with_signature "$TMP/virus.eml"

# --- Redis, the domains, mhmilter, Postfix ------------------------------------------
DPORT=$(free_port)	# not a fixed port: other tests outside a namespace use 127.0.0.5 too
sink_start dest "$DPORT" --host 127.0.0.5
redis_start
MPORT=$(free_port)
CONF=$TMP/mhkit.conf
write_conf() {	# write_conf ON_SCANNER_ERROR
	mhkit_conf_write "$CONF" "milter = { listen = \"inet:127.0.0.1:$MPORT\"; clamd = \"unix:$SOCK\"; on_scanner_error = \"$1\"; };"
}
write_conf accept
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null 2>&1 || fail "mhlist $*"; }
mh domain add example.com --service relay --dest mail.customer.example --port 2525
mh domain add example.org --service relay --dest mail.customer.example --port 2525 --virus off
mh domain add example.net --service backup

start_milter() {
	start_bg mhmilter "$MILTER" -c "$CONF" -f
	MILTER_PID=$BG_PID
	wait_until 10 grep -q "ready" "$TMP/mhmilter.log" || hard_error "mhmilter did not start: $(cat "$TMP/mhmilter.log")"
}
start_milter

postfix_start mx \
	'relay_domains = example.com example.org example.net' \
	"transport_maps = inline:{ example.com=smtp:[127.0.0.5]:$DPORT, example.org=smtp:[127.0.0.5]:$DPORT, example.net=smtp:[127.0.0.5]:$DPORT }" \
	"smtpd_milters = inet:127.0.0.1:$MPORT" 'milter_default_action = tempfail' 'milter_protocol = 6'
MX=$(postfix_port mx)
send() { send_mail "$MX" "$@"; }

# --- verdicts ------------------------------------------------------------------------
send alice@example.org bob@example.com --data "@$TMP/virus.eml"
assert_eq "554 5.7.1 Message rejected: virus $NAME found" "$(smtp_data_reply)" \
	"a signature in a base64 attachment: refused with the virus's name"
send alice@example.org bob@example.com --header 'Message-ID: <clean-1@test>' --body 'nothing to see'
assert_match "$(smtp_data_reply)" '^250 ' "a clean message: accepted"
sink_wait dest 1 20
assert_eq 1 "$(sink_find dest Message-ID '<clean-1@test>' | grep -c .)" "...and delivered"
send alice@example.org carol@example.org --data "@$TMP/virus.eml"
assert_match "$(smtp_data_reply)" '^250 ' "a domain with virus off: not scanned, accepted"
send alice@example.org dave@example.net --data "@$TMP/virus.eml"
assert_match "$(smtp_data_reply)" '^250 ' "a backup domain: not scanned (relay only), accepted"
send alice@example.org "bob@example.com,carol@example.org" --data "@$TMP/virus.eml"
assert_eq "554 5.7.1 Message rejected: virus $NAME found" "$(smtp_data_reply)" \
	"one scanned recipient among others: the message refused"
assert_contains "$(cat "$TMP/mhmilter.log")" "reject: END-OF-MESSAGE from" "the refusal logged"

# --- clamd down: milter.on_scanner_error -------------------------------------------
stop_pid "$CLAMD_PID"
send alice@example.org bob@example.com --header 'Message-ID: <unscanned-1@test>'
assert_match "$(smtp_data_reply)" '^250 ' "clamd down, on_scanner_error = accept: accepted"
assert_contains "$(cat "$TMP/mhmilter.log")" "accepted without the virus scan (on_scanner_error = accept)" "...and logged"
# the setting changed by a reload (SIGHUP), not a restart
reloads() { grep -c "$1" "$TMP/mhmilter.log"; }
write_conf tempfail
n=$(reloads "reloaded")
kill -HUP "$MILTER_PID"
wait_until 10 eval '[ "$(reloads "reloaded")" -gt '"$n"' ]' || fail "SIGHUP: mhmilter did not log 'reloaded'"
send alice@example.org bob@example.com
assert_eq "451 4.7.1 Service unavailable - try again later" "$(smtp_data_reply)" \
	"clamd down, on_scanner_error = tempfail after SIGHUP: 451"
# a broken file: refused and logged, the old settings stay in force
cp "$CONF" "$TMP/mhkit.conf.good"
printf 'milter = { on_scanner_error = "sometimes"; };\n' >>"$CONF"
n=$(reloads "reload refused")
kill -HUP "$MILTER_PID"
wait_until 10 eval '[ "$(reloads "reload refused")" -gt '"$n"' ]' || fail "SIGHUP, broken file: no 'reload refused' logged"
assert_match "$(grep "reload refused" "$TMP/mhmilter.log" | tail -n 1)" \
	'error: reload refused, old settings stay in force: .*mhkit.conf:[0-9]+: ' "a broken file on SIGHUP: refused, logged with file and line"
send alice@example.org bob@example.com
assert_eq "451 4.7.1 Service unavailable - try again later" "$(smtp_data_reply)" \
	"...the old settings stay in force (tempfail)"
cp "$TMP/mhkit.conf.good" "$CONF"
# many SIGHUPs at once: reloads, never a stop. libmilter's signal thread
# would stop the filter on one it received (it did, once in a while, when
# the main thread already had one pending); its listener notices a stop
# within 5 s (MI_CHK_TIME), so the check waits longer than that
for _ in $(seq 50); do kill -HUP "$MILTER_PID"; done
sleep 6
check "50 SIGHUPs at once: mhmilter still running 6 s later" pid_alive "$MILTER_PID"
clamd_start
send alice@example.org bob@example.com --data "@$TMP/virus.eml"
assert_eq "554 5.7.1 Message rejected: virus $NAME found" "$(smtp_data_reply)" "clamd back: scanning again"
check "mhmilter still running" pid_alive "$MILTER_PID"
# SIGTERM: a clean stop, status 0
kill -TERM "$MILTER_PID"
wait_until 15 eval '! pid_alive "$MILTER_PID"' || fail "SIGTERM: mhmilter still running after 15 s"
wait "$MILTER_PID"
assert_eq 0 "$?" "SIGTERM: mhmilter exits with status 0"
assert_contains "$(cat "$TMP/mhmilter.log")" "mhmilter: stopped" "...and logs that it stopped"

done_testing
