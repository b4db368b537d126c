#!/bin/bash
# test_postfix_retry.sh - the retry schedule of contrib/postfix/retry.main.cf
# in a real, private Postfix, with time compressed 60 times (a minute of
# the fragment is a second here): a destination that is down, then up.
#
# The fragment's schedule (contrib/postfix/README.md has the table): after
# a failed attempt Postfix waits the message's age kept between
# minimal_backoff_time and maximal_backoff_time (both 15m: 15 minutes),
# and retries at the first deferred-queue scan after that (queue_run_delay
# 1m): every 15 to 16 minutes. Compressed: every 15 to 16 s. Checked: the
# first attempt at once, then RETRY_ATTEMPTS more attempts each 15-16 s
# after the one before (the queue manager's clock and the log's timestamps
# count whole seconds, so 14-17 s are accepted; 14 s is what is seen), then the destination comes back and the message arrives at
# the next attempt, within one interval.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"

FRAGMENT=$PF_CONTRIB/retry.main.cf
RETRY_ATTEMPTS=3		# failed attempts after the first, observed

# setting NAME - its value in the fragment
setting() {
	sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" "$FRAGMENT" | tail -n 1
}
# compress VALUE - a Postfix time (Ns, Nm, Nh, Nd) divided by 60, in seconds
compress() {
	local v=$1 n=${1%[smhd]} unit=${1##*[0-9]}
	case $unit in
	s) hard_error "compress $v: under a second once compressed" ;;
	m) echo "${n}s" ;;
	h) echo "$((n * 60))s" ;;
	d) echo "$((n * 1440))s" ;;
	*) hard_error "compress $v: no unit" ;;
	esac
}
for n in queue_run_delay minimal_backoff_time maximal_backoff_time; do
	[ -n "$(setting $n)" ] || hard_error "$FRAGMENT has no $n"
done
QRD=$(compress "$(setting queue_run_delay)")
MIN=$(compress "$(setting minimal_backoff_time)")
MAX=$(compress "$(setting maximal_backoff_time)")
assert_eq "1s 15s 15s" "$QRD $MIN $MAX" "the fragment's schedule, compressed: scan every 1 s, back off 15 s"
lo=${MIN%s} hi=$(( ${MAX%s} + ${QRD%s} ))

DEST_PORT=$(free_port)		# the destination: nothing listens there yet
postfix_start retry "queue_run_delay = $QRD" "minimal_backoff_time = $MIN" "maximal_backoff_time = $MAX" \
	"transport_maps = inline:{ retry.test=smtp:[127.0.0.5]:$DEST_PORT }" 'relay_domains = retry.test'
send_mail "$(postfix_port retry)" a@sender.test bob@retry.test --header 'Message-ID: <retry-1@test>'
assert_match "$(smtp_data_reply)" '^250 ' "accepted while the destination is down"
qid=$(smtp_queue_id)

# attempt_times - the seconds (epoch) of each deferral of the message, one a line
attempt_times() {
	grep -E "$qid: to=<bob@retry.test>.*status=deferred" "$(postfix_log retry)" | while read -r mon day hms _; do
		date -d "$mon $day $hms" +%s
	done
}
n=$((RETRY_ATTEMPTS + 1))
postfix_wait_log retry "$qid: to=<bob@retry.test>.*status=deferred" 10 || fail "the first attempt was not made at once"
wait_until $(( n * hi + 10 )) eval '[ "$(attempt_times | grep -c .)" -ge '"$n"' ]' ||
	fail "fewer than $n attempts in $(( n * hi + 10 )) s"
mapfile -t t < <(attempt_times)
echo "# attempts at +0$(for ((i = 1; i < ${#t[@]}; i++)); do printf ' +%d' $(( t[i] - t[0] )); done) s"
for ((i = 1; i < n && i < ${#t[@]}; i++)); do
	d=$(( t[i] - t[i - 1] ))
	check "attempt $((i + 1)): $d s after the one before (the table: $lo-$hi s, compressed)" \
		test "$d" -ge $((lo - 1)) -a "$d" -le $((hi + 1))
done

sink_start dest "$DEST_PORT" --host 127.0.0.5
t_up=$(date +%s)
sink_wait dest 1 $((hi + 5)) || fail "not delivered within $((hi + 5)) s of the destination coming back"
waited=$(( $(date +%s) - t_up ))
check "delivered at the next attempt, $waited s after the destination came back (at most $hi s)" test "$waited" -le $((hi + 1))
assert_eq 1 "$(sink_find dest Message-ID '<retry-1@test>' | grep -c .)" "the message arrived once"
assert_eq 0 "$(postfix_queue_count retry)" "the queue is empty"

done_testing
