#!/bin/bash
# test_milter_spam.sh - mhmilter's spam scan through a real Postfix, a real
# Redis and a real spamd (tests/lib/spamd.sh: no network, no learning),
# with test rules of known scores added to SpamAssassin's own:
#   MHKIT_A 2.9 ("mhkit-token-a"), MHKIT_B 3.0 ("mhkit-token-b"), MHKIT_C 4.0 ("mhkit-token-c").
# A plain message gives the baseline score B (what SpamAssassin's stock
# rules give it); the domain's limits are then set to tag B+3.0 and
# discard B+7.0, so the messages land just under and just over each:
# B+2.9 not tagged, B+3.0 tagged (X-Spam-Flag, X-Spam-Score, X-Spam-Status,
# [SPAM] in the Subject), B+6.9 tagged and delivered, B+7.0 discarded, or
# refused 550 with discard_action = reject; two domains of different
# limits in one message; forged X-Spam-* headers removed; spam off and a
# whitelisted sender not scanned; spamd stopped -> Unchecked; a message
# over milter.spam_max_size not sent, and its header saying so.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"
. "$TESTS_LIB/spamd.sh"

MILTER=${MHMILTER:?MHMILTER: path of the built mhmilter}
MHLIST=${MHLIST:?}

spamd_start 'body MHKIT_A /mhkit-token-a/' 'score MHKIT_A 2.9' 'describe MHKIT_A test rule' \
	'body MHKIT_B /mhkit-token-b/' 'score MHKIT_B 3.0' 'describe MHKIT_B test rule' \
	'body MHKIT_C /mhkit-token-c/' 'score MHKIT_C 4.0' 'describe MHKIT_C test rule'

DPORT=$(free_port)	# not a fixed port: other tests outside a namespace use 127.0.0.5 too
sink_start dest "$DPORT" --host 127.0.0.5
redis_start
MPORT=$(free_port)
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF" "milter = { listen = \"inet:127.0.0.1:$MPORT\"; spamd = \"inet:127.0.0.1:$SPAMD_PORT\"; clamd = \"unix:$TMP/no-clamd.sock\"; spam_max_size = \"64K\"; };"
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null 2>&1 || fail "mhlist $*"; }
mh domain add example.com --service relay --dest mail.customer.example --port 2525 --virus off
mh domain add example.net --service relay --dest mail.customer.example --port 2525 --virus off
mh domain add example.org --service relay --dest mail.customer.example --port 2525 --virus off --spam off
mh whitelist add example.com friend@partner.example

start_bg mhmilter "$MILTER" -c "$CONF" -f
MILTER_PID=$BG_PID
wait_until 10 grep -q "ready" "$TMP/mhmilter.log" || hard_error "mhmilter did not start: $(cat "$TMP/mhmilter.log")"
postfix_start mx \
	'relay_domains = example.com example.net example.org' \
	"transport_maps = inline:{ example.com=smtp:[127.0.0.5]:$DPORT, example.net=smtp:[127.0.0.5]:$DPORT, example.org=smtp:[127.0.0.5]:$DPORT }" \
	"smtpd_milters = inet:127.0.0.1:$MPORT" 'milter_default_action = tempfail' 'milter_protocol = 6'
MX=$(postfix_port mx)

# msg ID TO BODY [swaks args] - send a message with Message-ID <ID@test>; T_OUT is the transcript
msg() {
	local id=$1 to=$2 body=$3
	shift 3
	send_mail "$MX" sender@example.org "$to" --header "Message-ID: <$id@test>" \
		--header "Subject: message $id" --body "$body" "$@"
}
# arrived ID - the stored message with that Message-ID (waits up to 20 s); "" when none
arrived() {
	local m= i
	for i in $(seq 1 40); do
		m=$(sink_find dest Message-ID "<$1@test>" | head -n 1)
		[ -n "$m" ] && break
		sleep 0.5
	done
	echo "$m"
}
hdr() { sink_header "$1" "$2"; }
# add A B - A + B, one decimal (scores as spamd prints them)
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a + b }'; }

# --- the baseline: a plain message ---------------------------------------------------
msg base bob@example.com 'a plain message'
assert_match "$(smtp_data_reply)" '^250 ' "a plain message: accepted"
m=$(arrived base)
status=$(hdr "$m" X-Spam-Status)
assert_match "$status" '^No, score=-?[0-9]+\.[0-9] tag=5\.0 discard=10\.0 tests=' \
	"a plain message: X-Spam-Status No with the domain's default limits"
B=$(sed -n 's/^No, score=\(-\{0,1\}[0-9.]*\) .*/\1/p' <<<"$status")
echo "# baseline score B = $B"
assert_eq "" "$(hdr "$m" X-Spam-Flag)" "...no X-Spam-Flag"
T=$(add "$B" 3.0) D=$(add "$B" 7.0)
mh domain set example.com --tag_limit "$T" --discard_limit "$D"

# --- just under and just over each limit ----------------------------------------------
msg a bob@example.com 'mhkit-token-a'
m=$(arrived a)
assert_match "$(hdr "$m" X-Spam-Status)" "^No, score=$(add "$B" 2.9) tag=$T discard=$D tests=.*MHKIT_A" \
	"B+2.9, tag limit B+3.0: not tagged"
assert_eq "message a" "$(hdr "$m" Subject)" "...Subject unchanged"
msg b bob@example.com 'mhkit-token-b'
m=$(arrived b)
assert_eq "YES" "$(hdr "$m" X-Spam-Flag)" "B+3.0: at the tag limit: X-Spam-Flag: YES"
assert_eq "$(add "$B" 3.0)" "$(hdr "$m" X-Spam-Score)" "...X-Spam-Score"
assert_match "$(hdr "$m" X-Spam-Status)" "^Yes, score=$(add "$B" 3.0) tag=$T discard=$D tests=.*MHKIT_B" "...X-Spam-Status: Yes"
assert_eq "[SPAM] message b" "$(hdr "$m" Subject)" "...the subject tagged"
msg ca bob@example.com 'mhkit-token-c mhkit-token-a'
m=$(arrived ca)
assert_match "$(hdr "$m" X-Spam-Status)" "^Yes, score=$(add "$B" 6.9) " "B+6.9, discard limit B+7.0: tagged and delivered"
before=$(sink_count dest)
msg cb bob@example.com 'mhkit-token-c mhkit-token-b'
assert_match "$(smtp_data_reply)" '^250 ' "B+7.0: at the discard limit: accepted (discard_action = discard)"
sleep 2
assert_eq "" "$(sink_find dest Message-ID '<cb@test>')" "...and never delivered"
assert_contains "$(cat "$TMP/mhmilter.log")" "discard: END-OF-MESSAGE" "...the discard logged"
msg gtube bob@example.com 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
assert_match "$(smtp_data_reply)" '^250 ' "GTUBE: accepted, then discarded"
mh domain set example.com --discard_action reject
msg cb2 bob@example.com 'mhkit-token-c mhkit-token-b'
assert_eq "550 5.7.1 Message rejected as spam" "$(smtp_data_reply)" "B+7.0 with discard_action = reject: 550"
mh domain set example.com --discard_action discard

# --- two domains, each with its own limits ------------------------------------------------
mh domain set example.net --tag_limit "$T" --discard_limit 100
msg two "bob@example.com,bob@example.net" 'mhkit-token-c mhkit-token-b'
m=$(arrived two)
assert_eq "<bob@example.net>" "$(hdr "$m" X-Sink-Rcpt-To)" \
	"B+7.0 to two domains: delivered only to the one whose discard limit it stays under"
assert_eq "YES" "$(hdr "$m" X-Spam-Flag)" "...tagged (its tag limit)"
assert_contains "$(cat "$TMP/mhmilter.log")" "removed recipient <bob@example.com>" "...the other recipient removed, logged"

# --- not scanned: spam off, whitelisted; forged headers removed --------------------------
msg off someone@example.org 'mhkit-token-c mhkit-token-b' --header 'X-Spam-Flag: YES' --header 'X-Spam-Status: Yes, score=99'
m=$(arrived off)
assert_eq "" "$(hdr "$m" X-Spam-Status)" "spam off: not scanned, and a forged X-Spam-Status removed"
assert_eq "" "$(hdr "$m" X-Spam-Flag)" "...and a forged X-Spam-Flag removed"
msg forged bob@example.com 'a plain message' --header 'X-Spam-Flag: YES' --header 'X-Spam-Score: 99'
m=$(arrived forged)
assert_eq "" "$(hdr "$m" X-Spam-Flag)" "scanned, not spam: the forged X-Spam-Flag removed"
assert_eq "" "$(hdr "$m" X-Spam-Score)" "...and the forged X-Spam-Score"
assert_eq 1 "$(hdr "$m" X-Spam-Status | grep -c .)" "...one X-Spam-Status: ours"
send_mail "$MX" friend@partner.example bob@example.com --header 'Message-ID: <white@test>' --body 'mhkit-token-c mhkit-token-b'
m=$(arrived white)
assert_eq "" "$(hdr "$m" X-Spam-Status)" "a whitelisted sender: not scanned"

# --- too large for spamd; spamd down ----------------------------------------------------
msg big bob@example.com "$(head -c 70000 /dev/zero | tr '\0' x | fold -w 70)"
m=$(arrived big)
assert_eq "Unchecked, message larger than 65536 bytes" "$(hdr "$m" X-Spam-Status)" \
	"over milter.spam_max_size: not sent to spamd, and the header says so"
stop_pid "$SPAMD_PID"
msg down bob@example.com 'mhkit-token-c mhkit-token-b'
m=$(arrived down)
assert_eq "Unchecked" "$(hdr "$m" X-Spam-Status)" "spamd down, on_scanner_error = accept: delivered, X-Spam-Status: Unchecked"
check "mhmilter still running" pid_alive "$MILTER_PID"

done_testing
