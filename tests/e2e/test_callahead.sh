#!/bin/bash
# test_callahead.sh - mhpolicyd's call-ahead through a real Postfix, real
# Redis and a real DNS server, in a network namespace of its own, against
# scripted SMTP servers (tests/lib/fakesmtp.py) standing for customers'
# servers: a user that exists (accepted, verdict cached: a second RCPT
# makes no probe), one that does not (the exact 550 5.1.1 ... (verified at
# DEST:PORT: "remote text") reply, cached for negative_ttl), a server that
# never answers (accepted within reply_timeout, cached as tempfail), a
# hanging destination not delaying another domain, 50 concurrent RCPTs of
# one address making one probe, 200 addresses at a slow destination with
# max_per_destination 3 never opening more than 3 connections, a second
# mhpolicyd on the same Redis still making one probe per address, and
# the verification loop of two relays calling ahead to each other (a
# second Postfix with reject_unverified_recipient whose destination is us).
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/dns.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"

POLICYD=${MHPOLICYD:?MHPOLICYD: path of the built mhpolicyd}
MHLIST=${MHLIST:?}
NODE=mx1.relay.test
WIRE="/usr/bin/python3 $TESTS_LIB/wire.py"

cat >"$TMP/zone" <<'EOF'
test ZONE
ok.dest.test     A 127.0.0.11
hang.dest.test   A 127.0.0.12
slow.dest.test   A 127.0.0.13
many.dest.test   A 127.0.0.14
loop.dest.test   A 127.0.0.15
EOF
dns_start "$TMP/zone"

# fakesmtp NAME ADDR MODE [DELAY] - a customer's server on ADDR:2525; its log is $TMP/NAME.smtp.log
fakesmtp() {
	start_bg "smtp-$1" /usr/bin/python3 "$TESTS_LIB/fakesmtp.py" --host "$2" --port 2525 --mode "$3" \
		--delay "${4:-1}" --log "$TMP/$1.smtp.log"
	wait_until 10 test -s "$TMP/$1.smtp.log.ready" || hard_error "fakesmtp $1: $(cat "$TMP/smtp-$1.log")"
}
# hostile servers, one per behaviour, each on its own address (dest given as an IP: mhlist warns)
HOSTILE="nobanner latebanner:20 bytewise:0.01 bytewise:0.5 endless longline garbage closebanner ehlo5xx helo5xx mail5xx rcpt4xx nasty nul badcode code999 pipelined slow:4"
hn=40
declare -A HADDR
for h in $HOSTILE; do
	name=${h%%:*}-${hn}
	HADDR[$h]=127.0.0.$hn
	fakesmtp "h$hn" "127.0.0.$hn" "${h%%:*}" "$( [ "${h#*:}" != "$h" ] && echo "${h#*:}" || echo 1)"
	hn=$((hn + 1))
done
hdomain() { echo "h${HADDR[$1]##*.}.test"; }
fakesmtp ok 127.0.0.11 ok
# Postfix's smtp-sink: one accepting everything, one refusing every RCPT with 5xx
SINK_USER=()
[ "$(id -u)" = 0 ] && SINK_USER=(-u nobody)	# smtp-sink will not run as root
start_bg sink-all smtp-sink "${SINK_USER[@]}" 127.0.0.21:2525 100
start_bg sink-rej smtp-sink "${SINK_USER[@]}" -f RCPT 127.0.0.22:2525 100
wait_until 10 sh -c 'ss -Htln | grep -q "127.0.0.21:2525" && ss -Htln | grep -q "127.0.0.22:2525"' ||
	hard_error "smtp-sink did not start"
fakesmtp hang 127.0.0.12 nobanner
fakesmtp slow 127.0.0.13 slow 1
fakesmtp many 127.0.0.14 slow 0.2
# rcpts NAME ADDRESS - RCPTs for ADDRESS the server NAME has seen
rcpts() { grep -c " RCPT TO:<$2>\$" "$TMP/$1.smtp.log" || true; }
# most_open NAME - the most connections the server NAME had open at once
connects() { grep -c ' connect ' "$TMP/$1.smtp.log" || true; }
most_open() { sed -n 's/.* connect [0-9]* open=\([0-9]*\)$/\1/p' "$TMP/$1.smtp.log" | sort -n | tail -n 1; }

redis_start
PPORT=$(free_port)
SPORT=$(free_port)
CONF=$TMP/mhkit.conf
write_conf() {	# write_conf FILE PORT SOCKETMAP-PORT
	mhkit_conf_write "$1" "policyd = { listen = \"inet:127.0.0.1:$2\"; socketmap = \"inet:127.0.0.1:$3\"; };
node = { hostnames = [\"$NODE\"]; };
dns = { servers = [\"127.0.0.1@53\"]; timeout = \"2s\"; };
callahead = { helo = \"$NODE\"; connect_timeout = \"2s\"; reply_timeout = \"3s\"; max_per_destination = 3;
  negative_ttl = \"1h\"; tempfail_ttl = \"5m\"; };"
}
write_conf "$CONF" "$PPORT" "$SPORT"
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null || fail "mhlist $*"; }
mh domain add ok.test --service relay --dest ok.dest.test --port 2525
mh domain add hang.test --service relay --dest hang.dest.test --port 2525
mh domain add slow.test --service relay --dest slow.dest.test --port 2525
mh domain add many.test --service relay --dest many.dest.test --port 2525
mh domain add off.test --service relay --dest ok.dest.test --port 2525 --callahead off
"$MHLIST" -c "$CONF" domain add sinkall.test --service relay --dest 127.0.0.21 --port 2525 >/dev/null 2>&1 || fail "domain add sinkall.test"
"$MHLIST" -c "$CONF" domain add sinkrej.test --service relay --dest 127.0.0.22 --port 2525 >/dev/null 2>&1 || fail "domain add sinkrej.test"
for h in $HOSTILE; do
	"$MHLIST" -c "$CONF" domain add "$(hdomain "$h")" --service relay --dest "${HADDR[$h]}" --port 2525 >/dev/null 2>&1 ||
		fail "mhlist domain add $(hdomain "$h")"
done
HDOMAINS= HROUTES=
for h in $HOSTILE; do
	HDOMAINS="$HDOMAINS $(hdomain "$h")"
	HROUTES="$HROUTES, $(hdomain "$h")=smtp:[127.0.0.5]:2525"
done
mh domain add loop.test --service relay --dest loop.dest.test --port 2525

start_bg mhpolicyd "$POLICYD" -c "$CONF" -f -v
POLICYD_PID=$BG_PID
wait_until 10 grep -q "ready" "$TMP/mhpolicyd.log" || hard_error "mhpolicyd did not start: $(cat "$TMP/mhpolicyd.log")"

postfix_start relay1 \
	"myhostname = $NODE" \
	"relay_domains = ok.test hang.test slow.test many.test off.test loop.test sinkall.test sinkrej.test$HDOMAINS" \
	"transport_maps = inline:{ ok.test=smtp:[127.0.0.5]:2525, hang.test=smtp:[127.0.0.5]:2525, slow.test=smtp:[127.0.0.5]:2525, many.test=smtp:[127.0.0.5]:2525, off.test=smtp:[127.0.0.5]:2525, loop.test=smtp:[127.0.0.15]:2525, sinkall.test=smtp:[127.0.0.5]:2525, sinkrej.test=smtp:[127.0.0.5]:2525$HROUTES }" \
	"smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service inet:127.0.0.1:$PPORT" \
	'smtpd_policy_service_timeout = 100s' \
	"smtpd_policy_service_default_action = 451 4.3.5 Policy service unavailable; try again later" \
	'mynetworks = 127.0.0.0/8'
MX=$(postfix_port relay1)

# rcpt TO - an SMTP transaction up to RCPT through Postfix; RCPT_REPLY, RCPT_MS
rcpt() {
	local t0
	t0=$(now_ms)
	send_mail "$MX" sender@client.test "$1" --quit-after RCPT
	RCPT_MS=$(( $(now_ms) - t0 ))
	RCPT_REPLY=$(smtp_rcpt_reply "$1")
}
# policy RCPT [SENDER] [CLIENT] - one policy request straight to mhpolicyd; prints the action
policy() { $WIRE policy 127.0.0.1 "$PPORT" "$1" "${3:-192.0.2.1}" "${2:-a@sender.test}" | sed -n 1p; }
cached() { redis_cli redis GET "mh:{$1}:ca:$2"; }

# --- a user that exists, then the cache ---------------------------------------------
rcpt alice@ok.test
assert_match "$RCPT_REPLY" '^250 ' "an existing user: accepted"
assert_eq 1 "$(rcpts ok alice@ok.test)" "...after one probe at the destination"
assert_contains "$(cat "$TMP/ok.smtp.log")" "EHLO $NODE" "the probe says EHLO callahead.helo"
assert_contains "$(cat "$TMP/ok.smtp.log")" "MAIL FROM:<>" "...and MAIL FROM:<> (probe_sender by default)"
assert_match "$(cached ok.test alice)" '^accept [0-9]+ 250 ok.dest.test:2525 2\.1\.5 Ok$' "the verdict cached in Redis"
rcpt alice@ok.test
assert_match "$RCPT_REPLY" '^250 ' "again: accepted"
assert_eq 1 "$(rcpts ok alice@ok.test)" "...from the cache: no second probe"

# --- a user that does not exist ---------------------------------------------------------
rcpt unknown1@ok.test
assert_eq "550 5.1.1 <unknown1@ok.test>: Recipient address rejected: User unknown (verified at ok.dest.test:2525: \"5.1.1 <unknown1@ok.test>: Recipient address rejected: User unknown in local recipient table\")" \
	"$RCPT_REPLY" "an unknown user: the exact 550 with the remote text"
pttl=$(redis_cli redis PTTL "mh:{ok.test}:ca:unknown1")
check_that "...cached for negative_ttl (1h; PTTL $pttl)" '[ "$pttl" -gt 3500000 ] && [ "$pttl" -le 3600000 ]'
rcpt unknown1@ok.test
assert_match "$RCPT_REPLY" '^550 5\.1\.1 ' "again: refused from the cache"
assert_eq 1 "$(rcpts ok unknown1@ok.test)" "...no second probe"
rcpt Unknown1@OK.test
assert_match "$RCPT_REPLY" '^550 5\.1\.1 ' "another spelling of the address: the same cached verdict"
rcpt carol@off.test
assert_match "$RCPT_REPLY" '^250 ' "callahead off: accepted"
assert_eq 0 "$(rcpts ok carol@off.test)" "...with no probe"

# --- Postfix's smtp-sink as the destination ----------------------------------------------------
rcpt anyone@sinkall.test
assert_match "$RCPT_REPLY" '^250 ' "smtp-sink (accepts all): accepted"
assert_match "$(cached sinkall.test anyone)" '^accept [0-9]+ 250 127\.0\.0\.21:2525 ' "...cached accept"
rcpt anyone@sinkrej.test
assert_eq "550 5.1.1 <anyone@sinkrej.test>: Recipient address rejected: User unknown (verified at 127.0.0.22:2525: \"5.3.0 Error: command failed\")" \
	"$RCPT_REPLY" "smtp-sink -f RCPT (5xx): refused with its text"

# --- a destination that never answers ------------------------------------------------------
rcpt dave@hang.test
assert_match "$RCPT_REPLY" '^250 ' "a server that says nothing: accepted (inconclusive)"
check "...within reply_timeout (3 s) and its slack: ${RCPT_MS} ms" [ "$RCPT_MS" -le 8000 ]
assert_match "$(cached hang.test dave)" '^tempfail [0-9]+ 0 hang.dest.test:2525 banner: timed out after 3000 ms$' \
	"...cached as tempfail, with why"
pttl=$(redis_cli redis PTTL "mh:{hang.test}:ca:dave")
check_that "...for tempfail_ttl (5m; PTTL $pttl)" '[ "$pttl" -gt 290000 ] && [ "$pttl" -le 300000 ]'
assert_contains "$(cat "$TMP/mhpolicyd.log")" "callahead: <dave@hang.test> at hang.dest.test:2525: inconclusive: banner: timed out" \
	"...and logged"
DOWNKEY='mh:{cadest:hang.dest.test:2525}:down'
assert_match "$(redis_cli redis GET "$DOWNKEY")" 'banner: timed out after 3000 ms' "...its destination marked down in Redis, with why"
pttl=$(redis_cli redis PTTL "$DOWNKEY")
check_that "...for min(tempfail_ttl, 60 s) (PTTL $pttl)" '[ "$pttl" -gt 50000 ] && [ "$pttl" -le 60000 ]'
n0=$(connects hang)
rcpt eve@hang.test
assert_match "$RCPT_REPLY" '^250 ' "the next address of a destination marked down: accepted (inconclusive)..."
check "...at once (${RCPT_MS} ms), not after another reply_timeout" [ "$RCPT_MS" -le 1500 ]
assert_eq "$n0" "$(connects hang)" "...without a probe (the server saw no new connection)"
assert_eq "" "$(cached hang.test eve)" "...and without caching a verdict for it"

# --- hostile servers, through Postfix: the reply the sender gets, in bounded time ----------------
# (connect_timeout 2 s + 5 x reply_timeout 3 s = 17 s at the very most; most end at one reply_timeout)
for h in $HOSTILE; do
	d=$(hdomain "$h")
	rcpt "victim@$d"
	case ${h%%:*} in
	nasty)
		assert_eq "550 5.1.1 <victim@$d>: Recipient address rejected: User unknown (verified at ${HADDR[$h]}:2525: \"5.1.1 'bad'guy [31mred[0m caf\")" \
			"$RCPT_REPLY" "$h: refused, the remote text cleaned of CR, ESC, quotes and 8-bit bytes" ;;
	*)
		assert_match "$RCPT_REPLY" '^250 ' "$h: accepted (${RCPT_MS} ms): $(cached "$d" victim | cut -d' ' -f1,5-)" ;;
	esac
	check "$h: within the configured timeouts (${RCPT_MS} ms <= 17000 + slack)" [ "$RCPT_MS" -le 20000 ]
	check "$h: mhpolicyd still serving" pid_alive "$POLICYD_PID"
done
assert_eq "DUNNO" "$(policy alice@ok.test | sed 's/^action=//')" "after them all: mhpolicyd answers"

# --- a slow destination does not hold up another domain ------------------------------------------
run "$MHLIST" -c "$CONF" cache purge @hang.test
assert_eq 0 "$T_RC" "cache purge @hang.test: ok"
assert_eq 0 "$(redis_cli redis EXISTS "$DOWNKEY")" "...also drops its destination's down mark (probed again next)"
policy erin@hang.test >"$TMP/slow-answer" &
slowpid=$!
sleep 0.3
t0=$(now_ms)
a=$(policy frank@ok.test)
fast=$(( $(now_ms) - t0 ))
assert_eq DUNNO "${a#action=}" "while hang.test's probe hangs, ok.test's answer comes"
check "...before the hanging one ends (${fast} ms)" pid_alive "$slowpid"
wait "$slowpid"
assert_eq "action=DUNNO" "$(head -n 1 "$TMP/slow-answer")" "...and the hanging one then ends, accepted"

# --- single flight: 50 RCPTs of one address at once ---------------------------------------------
for i in $(seq 50); do
	printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=192.0.2.%d\nclient_name=unknown\nhelo_name=c.test\nsender=s%d@sender.test\nrecipient=grace@slow.test\nqueue_id=Q%d\n\n' \
		"$i" "$i" "$i"
done >"$TMP/fifty"
out=$(WIRE_TIMEOUT=30 $WIRE scatter 127.0.0.1 "$PPORT" "$TMP/fifty")
assert_eq 50 "$(grep -c '^action=DUNNO$' <<<"$out")" "50 concurrent RCPTs of one address: all answered (accepted)"
assert_eq 1 "$(rcpts slow grace@slow.test)" "...the destination saw exactly one RCPT"
assert_match "$(cached slow.test grace)" '^accept ' "...its verdict cached"
assert_ge_log=$(grep -c "grace@slow.test.*waited for another probe" "$TMP/mhpolicyd.log" || true)
check "...the others waited for it (${assert_ge_log} logged with -v)" [ "$assert_ge_log" -ge 1 ]

# --- the per-destination cap: 200 addresses, max_per_destination 3 ---------------------------------
for i in $(seq 200); do
	printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=192.0.2.1\nclient_name=unknown\nhelo_name=c.test\nsender=s@sender.test\nrecipient=user%d@many.test\nqueue_id=Q%d\n\n' \
		"$i" "$i"
done >"$TMP/twohundred"
out=$(WIRE_TIMEOUT=60 $WIRE scatter 127.0.0.1 "$PPORT" "$TMP/twohundred")
assert_eq 200 "$(grep -c '^action=DUNNO$' <<<"$out")" "200 addresses at one destination: all answered"
most=$(most_open many)
check_that "...the destination never had more than 3 connections at once (most: $most)" '[ -n "$most" ] && [ "$most" -le 3 ]'
probed=$(grep -c ' RCPT TO:<user' "$TMP/many.smtp.log" || true)
dups=$(grep ' RCPT TO:<user' "$TMP/many.smtp.log" | awk '{print $NF}' | sort | uniq -d | grep -c . || true)
check_that "...some were probed ($probed), each once ($dups twice or more)" '[ "$probed" -ge 3 ] && [ "$dups" = 0 ]'
busy=$(grep -c "many.dest.test:2525 has had 3 probes in flight too long" "$TMP/mhpolicyd.log" || true)
echo "# cap: $probed probed, $busy answered inconclusive (destination busy)"

# --- two mhpolicyd processes on one Redis --------------------------------------------------------
PPORT2=$(free_port)
SPORT2=$(free_port)
write_conf "$TMP/mhkit2.conf" "$PPORT2" "$SPORT2"
start_bg mhpolicyd2 "$POLICYD" -c "$TMP/mhkit2.conf" -f
wait_until 10 grep -q "ready" "$TMP/mhpolicyd2.log" || hard_error "mhpolicyd2 did not start"
for i in $(seq 20); do
	printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=192.0.2.9\nclient_name=unknown\nhelo_name=c.test\nsender=s%d@sender.test\nrecipient=heidi@slow.test\nqueue_id=R%d\n\n' "$i" "$i"
done >"$TMP/twenty"
WIRE_TIMEOUT=30 $WIRE scatter 127.0.0.1 "$PPORT" "$TMP/twenty" >"$TMP/one.out" &
w1=$!
WIRE_TIMEOUT=30 $WIRE scatter 127.0.0.1 "$PPORT2" "$TMP/twenty" >"$TMP/two.out" &
w2=$!
wait "$w1" "$w2"
assert_eq 40 "$(cat "$TMP/one.out" "$TMP/two.out" | grep -c '^action=DUNNO$')" \
	"two mhpolicyd on one Redis, 20 RCPTs each for one address: all accepted"
assert_eq 1 "$(rcpts slow heidi@slow.test)" "...the destination saw exactly one RCPT"

# --- mhlist explain: where the call-ahead's answer comes from ----------------------------------
run "$MHLIST" -c "$CONF" explain sender@client.test unknown1@ok.test
assert_match "$T_OUT" 'callahead: cached verdict \(reject, [0-9]+s old\) at ok\.dest\.test:2525: user unknown' \
	"explain: the cached verdict, its age and where"
assert_contains "$T_OUT" "the client sees: 550 5.1.1 <unknown1@ok.test>: Recipient address rejected: User unknown (verified at ok.dest.test:2525:" \
	"explain: the reply the client sees"
run "$MHLIST" -c "$CONF" explain sender@client.test nobody-yet@ok.test
assert_contains "$T_OUT" "callahead: nothing cached: mhpolicyd would probe now" "explain: nothing cached: would probe"
assert_eq 0 "$(rcpts ok nobody-yet@ok.test)" "...explain itself does not probe"

# --- mhlist cache: a stale "user unknown" cleared for all nodes at once --------------------------
run "$MHLIST" -c "$CONF" cache show unknown1@ok.test
assert_match "$T_OUT" 'unknown1@ok\.test +reject ' "cache show: the cached refusal"
run "$MHLIST" -c "$CONF" cache purge unknown1@ok.test
assert_contains "$T_OUT" "purged 1 cached call-ahead verdict" "cache purge: dropped"
rcpt unknown1@ok.test
assert_match "$RCPT_REPLY" '^550 5\.1\.1 ' "the next RCPT probes again (the server still refuses)"
assert_eq 2 "$(rcpts ok unknown1@ok.test)" "...a second probe at the destination"
"$MHLIST" -c "$CONF" domain set ok.test --port 2525 >/dev/null
assert_eq "" "$(cached ok.test unknown1)" "domain set --port purges the domain's verdicts"
rcpt unknown1@ok.test
assert_eq 3 "$(rcpts ok unknown1@ok.test)" "...and the next RCPT probes again"

# --- mhlist check: a test call-ahead with its transcript ---------------------------------------
run "$MHLIST" -c "$CONF" check ok.test unknown9
assert_match "$T_OUT" '^callahead unknown9@ok\.test: reject \(RCPT TO: 550, [0-9]+ ms\)$' "check DOMAIN LOCAL: the verdict"
assert_contains "$T_OUT" "        | >>> EHLO $NODE" "...the transcript: EHLO"
assert_contains "$T_OUT" "        | >>> RCPT TO:<unknown9@ok.test>" "...RCPT"
assert_contains "$T_OUT" "        | <<< 550 5.1.1 <unknown9@ok.test>: Recipient address rejected: User unknown in local recipient table" "...the server's answer"
assert_contains "$T_OUT" "problem: callahead: ok.dest.test:2525 refuses unknown9@ok.test: 550" "...a refused user named as a problem"
run "$MHLIST" -c "$CONF" check ok.test
assert_match "$T_OUT" '^callahead mhkit-check-[0-9a-f]+@ok\.test: accept ' "check DOMAIN: an address that cannot exist, probed"
assert_contains "$T_OUT" "problem: callahead: ok.dest.test:2525 accepts mhkit-check-" "...a server that accepts it is a problem"
assert_eq "" "$(redis_cli redis KEYS 'mh:{ok.test}:ca:mhkit-check-*')" "...and nothing of the test is cached"
run "$MHLIST" -c "$CONF" --json check hang.test
assert_eq inconclusive "$(jq -r .callahead.outcome <<<"$T_OUT" 2>/dev/null)" "check --json: a server that says nothing: inconclusive"
assert_eq "banner: timed out after 3000 ms" "$(jq -r .callahead.why <<<"$T_OUT" 2>/dev/null)" "...and why"

# --- the verification loop ------------------------------------------------------------------------
# loop.test's destination is a second relay (Postfix with reject_unverified_recipient)
# whose own destination for loop.test is us: each verifies the address at the other.
LOOPPORT=2525
postfix_start loop --addr 127.0.0.15 --port "$LOOPPORT" \
	'myhostname = other-relay.test' \
	'relay_domains = loop.test' \
	"transport_maps = inline:{ loop.test=smtp:[127.0.0.1]:$MX }" \
	'smtpd_recipient_restrictions = reject_unauth_destination, reject_unverified_recipient' \
	'unverified_recipient_reject_code = 550' \
	'address_verify_poll_count = 30' 'address_verify_poll_delay = 1s' \
	'mynetworks = 127.0.0.0/8'
rcpt ivan@loop.test
assert_match "$RCPT_REPLY" '^250 ' "a verification loop between two relays: the RCPT is accepted"
check "...in bounded time (${RCPT_MS} ms)" [ "$RCPT_MS" -le 60000 ]
assert_contains "$(cat "$TMP/mhpolicyd.log")" "callahead: verification loop on <ivan@loop.test>" "...the loop logged"
n=$(grep -c "callahead: verification loop on <ivan@loop.test>" "$TMP/mhpolicyd.log")
assert_eq 1 "$n" "...once"

check "mhpolicyd still running" pid_alive "$POLICYD_PID"
done_testing
