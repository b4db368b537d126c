#!/bin/bash
# test_postfix_harness.sh - the test harness itself against real Postfix:
# tests/lib/postfix.sh (private instances), tests/lib/smtp.sh (the sink
# and send_mail).  Relay to a sink with the message's headers intact,
# Postfix's own "Relay access denied", a destination that is down and
# comes back (deferred, flushed, delivered), the sink's rules, a reload,
# two instances at once (and one relaying through the other), IPv6, and
# nothing left running afterwards.

here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"

# live_procs_of_tmp - live processes (not this shell) whose command line
# names $TMP or whose environment has MAIL_CONFIG under $TMP
live_procs_of_tmp() {
	local p stat state
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = $$ ] && continue
		read -r stat 2>/dev/null <"$p/stat" || continue
		read -r state _ <<<"${stat##*) }"
		case $state in Z | X) continue ;; esac
		if tr "\0" "\n" 2>/dev/null <"$p/cmdline" | grep -qF -- "$TMP/" ||
			tr "\0" "\n" 2>/dev/null <"$p/environ" | grep -qF -- "MAIL_CONFIG=$TMP/"; then
			echo "${p#/proc/} $(tr "\0" " " 2>/dev/null <"$p/cmdline")"
		fi
	done
	return 0
}

# --- one instance relaying to a sink ------------------------------------------------

sink_start dest
SINK=$(sink_port dest)
LATE=$(free_port)		# a destination that is down for now
t0=$(now_ms)
postfix_start mx \
	'relay_domains = example.com, late.example' \
	"transport_maps = inline:{ example.com=smtp:[127.0.0.1]:$SINK, late.example=smtp:[127.0.0.1]:$LATE }" \
	'smtpd_relay_restrictions = reject_unauth_destination'
echo "# postfix_start mx took $(( $(now_ms) - t0 )) ms"
MX=$(postfix_port mx)
assert_eq "$MX" "${PF_PORT_MX:-}" "PF_PORT_MX is the port"
check "mx: master $(postfix_pid mx) runs" pid_alive "$(postfix_pid mx)"
check "mx: smtpd answers 220 on 127.0.0.1:$MX" pf_banner "$MX"
check "mx: its own log" test -s "$(postfix_log mx)"
assert_contains "$(cat "$(postfix_log mx)")" "daemon started -- version" "mx: master logged its start in its own log"

send_mail "$MX" alice@example.com bob@example.com \
	--header 'Subject: harness check' --header 'Message-ID: <harness-1@client.test>' --header 'X-Test: one'
assert_eq 0 "$T_RC" "relay to example.com: swaks exit 0"
assert_match "$(smtp_data_reply)" '^250 2\.0\.0 Ok: queued as [0-9A-F]+$' "relay to example.com: 250 queued"
QID=$(smtp_queue_id)
if sink_wait dest 1 20; then pass "the message arrived at the sink"; else fail "the message arrived at the sink" "$(tail -n 5 "$(postfix_log mx)")"; fi
MSGS=$(sink_find dest Message-ID '<harness-1@client.test>')
assert_eq 1 "$(printf '%s\n' "$MSGS" | grep -c .)" "exactly one message with Message-ID <harness-1@client.test>"
M=$(printf '%s\n' "$MSGS" | head -n 1)
if [ -n "$M" ]; then
	assert_eq "harness check" "$(sink_header "$M" Subject)" "Subject kept"
	assert_eq "one" "$(sink_header "$M" X-Test)" "X-Test kept"
	assert_match "$(sink_header "$M" Received)" "by mx\.test \(Postfix\) with ESMTP id $QID" "Received header from instance mx with the queue ID"
	assert_eq "<alice@example.com>" "$(sink_header "$M" X-Sink-Mail-From)" "envelope sender"
	assert_eq "<bob@example.com>" "$(sink_header "$M" X-Sink-Rcpt-To)" "envelope recipient"
	assert_eq "$SINK" "$(sink_header "$M" X-Sink-Port)" "arrived on the sink's port $SINK"
	assert_eq "EHLO mx.test" "$(sink_header "$M" X-Sink-Helo)" "Postfix said EHLO mx.test"
	assert_contains "$(sink_body "$M")" "This is a test mailing" "body kept"
else
	fail "message file found"
fi
if postfix_wait_queue_empty mx 10; then pass "mx: queue empty after delivery"; else fail "mx: queue empty after delivery" "count $(postfix_queue_count mx)"; fi
assert_contains "$(cat "$(postfix_log mx)")" "$QID: to=<bob@example.com>, relay=127.0.0.1[127.0.0.1]:$SINK" "mx's log shows the delivery"

# --- Postfix's own relay refusal -----------------------------------------------------

send_mail "$MX" alice@example.com x@other.example
assert_eq 24 "$T_RC" "relay to other.example: swaks exit 24 (all recipients refused)"
assert_eq "554 5.7.1 <x@other.example>: Relay access denied" "$(smtp_rcpt_reply x@other.example)" \
	"relay to other.example: exact reply"
assert_eq 0 "$(postfix_queue_count mx)" "nothing queued for other.example"

# --- destination down: deferred, flushed once it is back ----------------------------

send_mail "$MX" alice@example.com carol@late.example --header 'Message-ID: <harness-late@client.test>'
assert_eq 0 "$T_RC" "mail for late.example accepted while its destination is down"
LATE_QID=$(smtp_queue_id)
check "deferred: the log says so" postfix_wait_log mx "$LATE_QID: to=<carol@late.example>.*status=deferred" 15
assert_eq 1 "$(postfix_queue_count mx)" "deferred: one message in mx's queue"
run postfix_queue mx
assert_contains "$T_OUT" "\"queue_name\": \"deferred\"" "postqueue -j shows it deferred"
assert_contains "$T_OUT" "\"queue_id\": \"$LATE_QID\"" "postqueue -j shows its queue ID"
sink_start late "$LATE"
assert_eq "$LATE" "$(sink_port late)" "sink late started on the given port"
t0=$(now_ms)
postfix_flush mx
if sink_wait late 1 20; then
	pass "after postfix_flush the deferred message arrived ($(( $(now_ms) - t0 )) ms)"
else
	fail "after postfix_flush the deferred message arrived" "$(tail -n 5 "$(postfix_log mx)")"
fi
assert_eq 1 "$(sink_find late Message-ID '<harness-late@client.test>' | grep -c .)" "exactly one copy at sink late"
check "mx: queue empty again" postfix_wait_queue_empty mx 10

# --- the sink's rules, straight at the sink -------------------------------------------

sink_rule dest 'rcpt nobody@example.com 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown'
before=$(sink_connections dest)
send_mail "$SINK" alice@example.org nobody@example.com
assert_eq 24 "$T_RC" "sink rule: RCPT refused"
assert_eq "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown" \
	"$(smtp_rcpt_reply nobody@example.com)" "sink rule: exact RCPT reply"
assert_eq $((before + 1)) "$(sink_connections dest)" "sink counts the connection"
assert_contains "$(cat "$(sink_log dest)")" "> RCPT TO:<nobody@example.com>" "sink transcript has the RCPT"

# a 4xx after the data: Postfix keeps the message, and delivers it once the sink accepts
sink_rule dest 'dot @example.com 451 4.3.0 Try again later'
n=$(sink_count dest)
send_mail "$MX" alice@example.com dave@example.com --header 'Message-ID: <harness-451@client.test>'
assert_eq 0 "$T_RC" "accepted by mx"
check "sink's 451 deferred it" postfix_wait_log mx "to=<dave@example.com>.*status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 451 4\.3\.0 Try again later" 15
assert_eq "$n" "$(sink_count dest)" "nothing stored on a 451"
sink_rules_clear dest
postfix_flush mx
check "delivered after the rule is gone" sink_wait dest $((n + 1)) 20
assert_eq 1 "$(sink_find dest Message-ID '<harness-451@client.test>' | grep -c .)" "exactly one copy after the retry"

# --- postfix_conf reloads -------------------------------------------------------------

postfix_conf mx 'smtpd_banner = $myhostname ESMTP reloaded-banner'
send_mail "$MX" alice@example.com bob@example.com --quit-after CONNECT
assert_contains "$T_OUT" "220 mx.test ESMTP reloaded-banner" "postfix_conf: new banner after reload"

# --- two instances at once, one relaying through the other ----------------------------

t0=$(now_ms)
postfix_start edge 'relay_domains = example.com' \
	"transport_maps = inline:{ example.com=smtp:[127.0.0.1]:$MX }"
echo "# postfix_start edge took $(( $(now_ms) - t0 )) ms"
EDGE=$(postfix_port edge)
check "two instances: ports differ ($MX, $EDGE)" test "$MX" != "$EDGE"
check "two instances: both masters run" pid_alive "$(postfix_pid mx)"
check "two instances: edge's master runs" pid_alive "$(postfix_pid edge)"
check "two instances: separate queues" test "$(postfix_dir mx)/queue" != "$(postfix_dir edge)/queue"
send_mail "$EDGE" alice@example.com erin@example.com --header 'Message-ID: <harness-chain@client.test>'
assert_eq 0 "$T_RC" "edge accepted"
EDGE_QID=$(smtp_queue_id)
send_mail "$MX" alice@example.com frank@example.com --header 'Message-ID: <harness-direct@client.test>'
assert_eq 0 "$T_RC" "mx accepted at the same time"
MX_QID=$(smtp_queue_id)
check "both arrived" sink_wait dest $((n + 3)) 20
M=$(sink_find dest Message-ID '<harness-chain@client.test>' | head -n 1)
if [ -n "$M" ]; then
	R=$(sink_header "$M" Received)
	assert_match "$R" "by mx\.test \(Postfix\)" "chain: received by mx"
	assert_match "$R" "by edge\.test \(Postfix\) with ESMTP id $EDGE_QID" "chain: received by edge first"
	assert_eq 2 "$(printf '%s\n' "$R" | grep -c .)" "chain: two Received headers"
else
	fail "chain: message at the sink"
fi
assert_not_contains "$(cat "$(postfix_log edge)")" "$MX_QID" "edge's log does not have mx's message"
assert_contains "$(cat "$(postfix_log edge)")" "$EDGE_QID: to=<erin@example.com>, relay=127.0.0.1[127.0.0.1]:$MX" "edge's log has its own relay to mx"
check "edge: queue empty" postfix_wait_queue_empty edge 10
check "mx: queue empty" postfix_wait_queue_empty mx 10

# stopping one leaves the other alone
EDGE_PID=$(postfix_pid edge)
postfix_stop edge
check "edge stopped: master gone" sh -c "! kill -0 $EDGE_PID 2>/dev/null || grep -q '^[^)]*) Z' /proc/$EDGE_PID/stat"
assert_eq "" "$(postfix_processes edge | tr '\n' ' ')" "edge stopped: none of its processes left"
check "edge stopped: port closed" sh -c "! (exec 3<>/dev/tcp/127.0.0.1/$EDGE) 2>/dev/null"
check "mx still answers" pf_banner "$MX"

# --- IPv6 --------------------------------------------------------------------------------

if have_ipv6 && swaks_supports IPv6; then
	# no reverse lookup: ::1 is not in /etc/hosts here, so it would ask the DNS
	postfix_start v6 --ipv6 'relay_domains = example.com' 'smtpd_peername_lookup = no' \
		"transport_maps = inline:{ example.com=smtp:[127.0.0.1]:$SINK }"
	send_mail "[::1]:$(postfix_port v6)" alice@example.com grace@example.com --header 'Message-ID: <harness-v6@client.test>'
	assert_eq 0 "$T_RC" "v6: accepted on [::1]"
	check "v6: delivered" sink_wait dest $((n + 4)) 20
	M=$(sink_find dest Message-ID '<harness-v6@client.test>' | head -n 1)
	assert_match "$(sink_header "${M:-/dev/null}" Received)" "from client\.test \(unknown \[IPv6:::1\]\)" "v6: client was ::1"
	postfix_stop v6
else
	pass "# SKIP no IPv6 loopback, or swaks without IPv6 (libio-socket-inet6-perl)"
fi

# --- everything stopped ------------------------------------------------------------------

MX_PID=$(postfix_pid mx)
postfix_stop_all
sink_stop dest
sink_stop late
check "mx master gone" sh -c "! kill -0 $MX_PID 2>/dev/null || grep -q '^[^)]*) Z' /proc/$MX_PID/stat"
assert_eq "" "$(postfix_processes mx | tr '\n' ' ')" "no mx process left"
assert_eq "" "$(live_procs_of_tmp)" "no process of this test's temp dir left"
assert_eq "" "$(sink_pid dest)$(sink_pid late)" "sinks unregistered"

done_testing
