#!/bin/bash
# test_probe.sh - the call-ahead's SMTP client (policyd/probe.c, driven by
# callahead_probe) against Postfix's smtp-sink and against a scripted
# server (tests/lib/fakesmtp.py) that is slow or hostile on purpose: no
# banner, a banner after 20 s, replies byte by byte, endless 250-
# continuation lines, a 1 MB line without CRLF, binary garbage, a close
# after the banner, 5xx to EHLO (HELO then works) and to HELO, 5xx to
# MAIL, 4xx to RCPT, replies with CR, NUL and escape sequences, bad codes
# (2x0, 999), replies before the command. Each asserts the outcome, the
# remote text as we would repeat it, and that the dialogue ended within
# its timeouts (a liveness bound with room for a loaded machine).
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
PROBE=${CALLAHEAD_PROBE:?CALLAHEAD_PROBE: path of the built callahead_probe}
need_cmd python3 smtp-sink

C_MS=2000 R_MS=2000		# connect and reply timeouts given to the client
SLACK=1500			# ms a loaded machine may add

# fake MODE [DELAY] - start fakesmtp.py on a free port; sets FPORT, FLOG
fake() {
	FPORT=$(free_port)
	FLOG=$TMP/fake-$FPORT.log
	start_bg "fake-$FPORT" /usr/bin/python3 "$TESTS_LIB/fakesmtp.py" --port "$FPORT" --mode "$1" \
		--log "$FLOG" --delay "${2:-1}"
	FPID=$BG_PID
	wait_until 10 test -s "$FLOG.ready" || hard_error "fakesmtp.py did not start: $(cat "$TMP/fake-$FPORT.log")"
}
# probe RCPT [args] - run the client against 127.0.0.1:FPORT; sets OUT, OUTCOME, WHY, TEXT, MS
probe() {
	local rcpt=$1
	shift
	OUT=$("$PROBE" -C "$C_MS" -R "$R_MS" "$@" 127.0.0.1 "$FPORT" "$rcpt" 2>&1)
	local line
	line=$(printf '%s\n' "$OUT" | grep '^outcome=' | head -n 1)
	OUTCOME=$(sed -n 's/^outcome=\([a-z]*\) .*/\1/p' <<<"$line")
	MS=$(sed -n 's/.* ms=\([0-9]*\) .*/\1/p' <<<"$line")
	WHY=$(sed -n 's/.* why="\(.*\)" text=.*/\1/p' <<<"$line")
	TEXT=$(sed -n 's/.* text="\(.*\)"$/\1/p' <<<"$line")
}
# within MS_LIMIT NAME - the last probe ended within MS_LIMIT (+ slack)
within() {
	local bound=$(($1 + SLACK))
	check_that "$2: ended in ${MS} ms (bound $1 ms + ${SLACK} ms)" '[ -n "$MS" ] && [ "$MS" -le "$bound" ]'
}
# expect MODE OUTCOME WHY [TEXT] [DELAY] - a fake server in MODE gives this outcome
expect() {
	local mode=$1 outcome=$2 why=$3 text=${4-} delay=${5:-1}
	fake "$mode" "$delay"
	probe user@example.com
	assert_eq "$outcome" "$OUTCOME" "$mode: $outcome"
	assert_eq "$why" "$WHY" "$mode: why"
	[ -n "$text" ] && assert_eq "$text" "$TEXT" "$mode: the remote text as repeated"
	stop_pid "$FPID"
}

# --- well-behaved servers ---------------------------------------------------------------
fake ok
probe user@example.com -t
assert_eq accept "$OUTCOME" "a user that exists: accept"
assert_eq "Ok" "${TEXT#2.1.5 }" "...with the RCPT reply's text"
assert_contains "$OUT" "| >>> EHLO callahead.test" "the transcript has our EHLO"
assert_contains "$OUT" "| >>> MAIL FROM:<>" "...the null sender by default"
assert_contains "$OUT" "| >>> RCPT TO:<user@example.com>" "...the RCPT"
assert_contains "$OUT" "| <<< 250 fake.test PIPELINING 8BITMIME" "...the multi-line EHLO reply joined"
assert_contains "$OUT" "| >>> QUIT" "...and QUIT"
probe unknown.user@example.com -S probe@relay.test -H mx1.relay.test
assert_eq reject "$OUTCOME" "a user that does not exist: reject"
assert_eq "5.1.1 <unknown.user@example.com>: Recipient address rejected: User unknown in local recipient table" \
	"$TEXT" "...with the remote text"
wait_until 5 grep -q "MAIL FROM:<probe@relay.test>" "$FLOG"
assert_contains "$(cat "$FLOG")" "cmd 2 EHLO mx1.relay.test" "the HELO name given is used"
assert_contains "$(cat "$FLOG")" "cmd 2 MAIL FROM:<probe@relay.test>" "the probe sender given is used"
wait_until 5 grep -q "cmd 2 QUIT" "$FLOG"
assert_contains "$(cat "$FLOG")" "cmd 2 QUIT" "QUIT sent after the verdict"
stop_pid "$FPID"

# Postfix's smtp-sink: accepts everything, or rejects RCPT with 5xx / 4xx
SINK_USER=()
[ "$(id -u)" = 0 ] && SINK_USER=(-u nobody)	# smtp-sink will not run as root
SPORT=$(free_port)
start_bg sink smtp-sink "${SINK_USER[@]}" -c "127.0.0.1:$SPORT" 100
SPID=$BG_PID
wait_until 10 port_in_use "$SPORT" || hard_error "smtp-sink did not start"
FPORT=$SPORT
probe anyone@example.com
assert_eq accept "$OUTCOME" "smtp-sink: accept"
stop_pid "$SPID"
start_bg sink5 smtp-sink "${SINK_USER[@]}" -f RCPT -c "127.0.0.1:$SPORT" 100
SPID=$BG_PID
wait_until 10 port_in_use "$SPORT" || hard_error "smtp-sink -f did not start"
probe anyone@example.com
assert_eq reject "$OUTCOME" "smtp-sink -f RCPT: reject"
assert_eq "5.3.0 Error: command failed" "$TEXT" "...its text"
stop_pid "$SPID"
start_bg sink4 smtp-sink "${SINK_USER[@]}" -r RCPT -c "127.0.0.1:$SPORT" 100
SPID=$BG_PID
wait_until 10 port_in_use "$SPORT" || hard_error "smtp-sink -r did not start"
probe anyone@example.com
assert_eq inconclusive "$OUTCOME" "smtp-sink -r RCPT (4xx): inconclusive"
stop_pid "$SPID"

# --- slow and hostile servers -------------------------------------------------------------
expect ehlo5xx accept "RCPT TO: 250"
assert_contains "$(cat "$FLOG")" "HELO callahead.test" "5xx to EHLO: HELO tried"
expect helo5xx inconclusive "HELO: 502" "5.5.2 go away"
expect mail5xx inconclusive "MAIL FROM: 550" "5.7.1 sender refused"
expect rcpt4xx inconclusive "RCPT TO: 450" "4.2.0 <user@example.com>: try later"
expect nasty reject "RCPT TO: 550" "5.1.1 'bad'guy [31mred[0m caf"
expect badcode inconclusive "banner: malformed reply code"
expect code999 inconclusive "banner: malformed reply code"
expect garbage inconclusive "banner: malformed reply code"
expect nul inconclusive "RCPT TO: NUL byte in a reply"
fake closebanner
probe user@example.com
assert_eq inconclusive "$OUTCOME" "closebanner: inconclusive"
assert_match "$WHY" "^EHLO: (connection closed|Connection reset by peer)$" "closebanner: why"
stop_pid "$FPID"
expect pipelined inconclusive "banner: data after the reply, before our command"
expect longline inconclusive "banner: reply line too long"
within 1000 "a 1 MB line"
expect endless inconclusive "banner: too many reply lines"
within 1000 "endless 220- lines"
expect nobanner inconclusive "banner: timed out after $R_MS ms"
within "$R_MS" "no banner"
expect latebanner inconclusive "banner: timed out after $R_MS ms" "" 20
within "$R_MS" "a banner after 20 s"
expect bytewise accept "RCPT TO: 250" "" 0.01
check "replies byte by byte (10 ms a byte): read whole" [ "$TEXT" = "2.1.5 Ok" ]
expect bytewise inconclusive "banner: timed out after $R_MS ms" "" 0.5
within "$R_MS" "a reply trickling a byte every 0.5 s"
expect slow inconclusive "banner: timed out after $R_MS ms" "" 3
within "$R_MS" "each reply 3 s late"

# --- connect failures -------------------------------------------------------------------------
FPORT=$(free_port)
probe user@example.com
assert_eq inconclusive "$OUTCOME" "nothing listening: inconclusive"
assert_eq "connect: Connection refused" "$WHY" "...connection refused"
fake noaccept
probe user@example.com
assert_eq "connect: timed out after $C_MS ms" "$WHY" "a server whose accept queue is full: connect_timeout"
within "$C_MS" "a connect that hangs"
stop_pid "$FPID"

# --- many at once on one loop ---------------------------------------------------------------------
fake ok
OUT=$("$PROBE" -C "$C_MS" -R "$R_MS" -n 200 127.0.0.1 "$FPORT" user@example.com 2>&1)
assert_eq 200 "$(grep -c '^outcome=accept ' <<<"$OUT")" "200 probes on one event loop: all accepted"
assert_eq 200 "$(grep -c ' RCPT TO:<' "$FLOG")" "...the server saw 200 RCPTs"
stop_pid "$FPID"

done_testing
