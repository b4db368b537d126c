#!/bin/bash
# test_faults.sh - the fault-injection suite (issue 8 item 1): a steady
# SMTP load through two real Postfix instances set up from contrib/postfix,
# relay1 (--role relay: mhpolicyd's policy service and socketmap, mhmilter)
# and out1 (--role outbound: SMTPS, AUTH PLAIN with Cyrus SASL, mhpolicyd's
# outbound counting), with Redis (append-only file), spamd, clamd, a DNS
# server, the customer's server and the outbound recipients' MX
# (smtpd_sink.py), in a network namespace of its own. For each fault, a
# few seconds into the load: inject it, restore it, let the load run out,
# then wait (bounded) until every accepted message has arrived, flushing
# the queue. Then count, per fault:
#   sent, accepted (250 after DATA), delivered (this fault's Message-IDs
#   at the destination), lost (accepted, never delivered), duplicated
#   (delivered more than once), 4xx, 5xx (with their texts), errors (no
#   reply: closed or timed out), bounces (at the sender's MX), recovery:
#   ms from the backend's return to the first message through Postfix
#   that gets 250 (a probe every 50 ms, from an address of its own), and,
#   where mhpolicyd is involved on the relay, to the first direct policy
#   request that is not deferred. The backend's return: Redis answers
#   PING / gets SIGCONT; spamd answers PING; clamd answers PING / gets
#   SIGCONT; a restarted daemon logged "ready" (its start-up time is in
#   the note).
# Checked: nothing lost or duplicated, no 5xx, nothing delivered that
# was refused, no session left without a reply after its ".", recovery
# within 1 s of the backend's return where the issue asks it; outbound:
# the account's quota counter equals the messages delivered (one relay
# each); spam faults: every delivered message was scanned.
# The table is printed at the end and written to $FAULT_TABLE (if set).
#
# Faults (relay role, to bob@relay.test unless said): redis-kill
# (SIGKILL, restarted on its AOF), redis-stop (SIGSTOP 10 s), redis-empty
# (restarted without its data; re-provisioned with mhlist), policyd-kill,
# milter-kill (SIGKILL and restart), policyd-term and milter-term (SIGTERM
# mid-load: exit 0 once what is in hand is done; then started again), policyd-hup and milter-hup (a changed config: dns.timeout;
# redis.timeout), policyd-hup-bad and milter-hup-bad (a broken config:
# refused, logged, the old one stays), dest-refuse (451 at RCPT),
# dest-down (connection refused), dest-hang (the server stopped with
# SIGSTOP); spamd-kill, spamd-stop, spamd-garbage (to bob@spam.test) and
# clamd-kill, clamd-stop, clamd-garbage (to bob@virus.test): the scanner
# killed and started again, stopped with SIGSTOP for 10 s, or replaced
# for 8 s by garbage.py, with milter.on_scanner_error = tempfail;
# outbound (one account each, AUTH over SMTPS, to bob@remote.test):
# out-redis-kill, out-redis-stop, out-redis-empty, out-policyd-kill,
# out-policyd-term, out-dest-down (the recipients' MX down 8 s).
#
# Environment: FAULT_RATE (messages/s, default 40), FAULT_SECONDS (load
# per fault, default 15), FAULT_AT (seconds into the load when the fault
# starts, default 3), FAULT_DRAIN (bound on waiting for delivery, default
# 120), FAULT_ONLY (space-separated fault names to run), FAULT_TABLE
# (file for the table), KEEP_TMP=1 (keep logs and results).
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/dns.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"
SPAMD_RULES=gtube		# GTUBE only: spamd starts in a second, not a minute
SPAMD_CHILDREN=5		# as Debian's spamd runs: the load is 40 messages a second
. "$TESTS_LIB/spamd.sh"
. "$TESTS_LIB/clamd.sh"
[ -x /usr/bin/python3 ] || skip_all "/usr/bin/python3 not installed"

POLICYD=${MHPOLICYD:?MHPOLICYD: path of the built mhpolicyd}
MILTER=${MHMILTER:?MHMILTER: path of the built mhmilter}
MHLIST=${MHLIST:?MHLIST: path of the built mhlist}
LOADPY=$here/mailload.py
RATE=${FAULT_RATE:-40}
SECONDS_LOAD=${FAULT_SECONDS:-15}
FAULT_AT=${FAULT_AT:-3}
DRAIN=${FAULT_DRAIN:-120}
ONLY=${FAULT_ONLY:-}
NODE=relay1.mhkit.test
OUT_NODE=out1.mhkit.test
PW=s3cret-Pass		# every outbound account's password
CLIENT=192.0.2.25
PROBE_CLIENT=192.0.2.26	# the probes' own address: Postfix's per-client limits count the load's, not theirs
T_START=$(now_ms)
section() { echo "# ---- $* (t=$(( ($(now_ms) - T_START) / 1000 )) s)"; }

# --- the world -------------------------------------------------------------------------
isolate_addr_add "$CLIENT"
isolate_addr_add "$PROBE_CLIENT"
cat >"$TMP/zone" <<ZONE
mhkit.test ZONE
$NODE A 127.0.0.1
relay.test ZONE
relay.test MX 10 $NODE.
customer.test ZONE
sink.customer.test A 127.0.0.5
sender.test ZONE
sender.test MX 10 mx.sender.test.
mx.sender.test A 127.0.0.8
sender.test TXT "v=spf1 ip4:192.0.2.0/24 -all"
spam.test ZONE
spam.test MX 10 $NODE.
virus.test ZONE
virus.test MX 10 $NODE.
$OUT_NODE A 127.0.0.1
customer.test ZONE
customer.test MX 10 mail.customer.test.
mail.customer.test A 192.0.2.80
remote.test ZONE
remote.test MX 10 mx.remote.test.
mx.remote.test A 127.0.0.9
ZONE
dns_start "$TMP/zone"
sink_start dest 2525 --host 127.0.0.5		# the customer's server
sink_start senders 25 --host 127.0.0.8		# the senders' MX: bounces, if any
sink_start remote 25 --host 127.0.0.9		# the outbound recipients' MX

redis_start --appendonly yes --appendfsync always
spamd_start
clamd_start
PPORT=$(free_port)
SPORT=$(free_port)
MPORT=$(free_port)
CONF=$TMP/mhkit.conf
conf_text() {	# conf_text DNS_TIMEOUT [REDIS_TIMEOUT]
	mhkit_conf_write "$CONF" --redis "timeout = \"${2:-2s}\";" "policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; };
milter = { listen = \"inet:127.0.0.1:$MPORT\"; spamd = \"unix:$SPAMD_SOCK\"; clamd = \"unix:$CLAMD_SOCK\";
	on_scanner_error = \"tempfail\"; };
node = { hostnames = [\"$NODE\"]; };
dns = { servers = [\"127.0.0.1@53\"]; timeout = \"$1\"; };"
}
conf_text 2s
cp "$CONF" "$TMP/mhkit.conf.good"
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null || fail "mhlist $*"; }
# provision [FAULT] - the domains and accounts; FAULT's account first (a
#   restore that brings back the account in use after the others would
#   have it refused, 554 "no outbound service", in between: mhpolicyd
#   knows Redis holds accounts again and this one is not among them yet)
provision() {
	local f first=${1:-}
	[ -n "$first" ] && mh account add "$(out_user "$first")" --blocks 100
	mh domain add relay.test --service relay --dest sink.customer.test --port 2525 \
		--callahead off --spam off --virus off --spf tag --userlist off
	mh users add relay.test bob
	mh domain set relay.test --userlist on
	# the scanner faults' domains: each scans with one scanner
	mh domain add spam.test --service relay --dest sink.customer.test --port 2525 \
		--callahead off --spam on --virus off --spf off --userlist off
	mh domain add virus.test --service relay --dest sink.customer.test --port 2525 \
		--callahead off --spam off --virus on --spf off --userlist off
	# the outbound faults' accounts: one each, so that each has its own counter
	for f in out-warmup "${OUT_FAULTS[@]}"; do
		[ "$f" = "$first" ] && continue
		mh account add "$(out_user "$f")" --blocks 100
	done
}
OUT_FAULTS=(out-redis-kill out-redis-stop out-redis-empty out-policyd-kill out-policyd-term out-dest-down)
out_user() { echo "$1@customer.test"; }	# out_user FAULT - its account (SASL login and sender)
# quota_key USER - the account's counter today (Redis's day)
quota_key() { echo "mh:{acct:$1}:used:$(( $(redis_cli redis TIME | head -n 1) / 86400 ))"; }
provision
domain_exists() { "$MHLIST" -c "$CONF" domain show relay.test >/dev/null 2>&1; }

# stamp_log FILE - copy FILE's lines (but the per-request ones) to
#   $TMP/stamped.log with the epoch ms and the file's name, while PID runs: evidence of when
#   a daemon lost, regained or reloaded something (-f logs carry no time)
stamp_log() {	# stamp_log FILE PID
	python3 "$LOADPY" stamp --file "$1" --pid "$2" --out "$TMP/stamped.log" &
	register_pid "$!"
}
stamp_event() { local t=${EPOCHREALTIME/./}; printf '%s %s %s\n' "${t%???}" test "$*" >>"$TMP/stamped.log"; }

# daemons: each (re)start logs to its own file, $TMP/NAME.N.log
declare -A DPID=() DLOG=() DGEN=()
daemon_start() {	# daemon_start policyd|milter - sets START_MS (run) and READY_MS (it logged "ready")
	local d=$1 bin
	[ "$d" = policyd ] && bin=$POLICYD || bin=$MILTER
	DGEN[$d]=$(( ${DGEN[$d]:-0} + 1 ))
	START_MS=$(now_ms)
	start_bg "$d.${DGEN[$d]}" "$bin" -c "$CONF" -f
	DPID[$d]=$BG_PID DLOG[$d]=$TMP/$d.${DGEN[$d]}.log
	stamp_log "${DLOG[$d]}" "$BG_PID"
	local i
	for ((i = 0; i < 1000; i++)); do	# 10 s at most, every 10 ms: READY_MS is exact to 10 ms
		grep -q "ready" "${DLOG[$d]}" && break
		sleep 0.01
	done
	READY_MS=$(now_ms)
	grep -q "ready" "${DLOG[$d]}" || hard_error "mh$d did not start: $(cat "${DLOG[$d]}")"
}
daemon_start policyd
daemon_start milter

section "Postfix start"
postfix_start relay1 --role relay \
	--subst "inet:127.0.0.1:10027=inet:127.0.0.1:$PPORT" \
	--subst "inet:127.0.0.1:10028=inet:127.0.0.1:$MPORT" \
	--subst "inet:127.0.0.1:10029=inet:127.0.0.1:$SPORT" \
	--master 'local unix - n n - - local' 'alias_maps = inline:{ postmaster=root, root=/dev/null }' \
	"myhostname = $NODE" 'default_transport = smtp' 'relay_transport = relay'
MX=$(postfix_port relay1 25)
postfix_start out1 --role outbound \
	--subst "inet:127.0.0.1:10027=inet:127.0.0.1:$PPORT" \
	--master 'local unix - n n - - local' 'alias_maps = inline:{ postmaster=root, root=/dev/null }' \
	"myhostname = $OUT_NODE" 'mydestination = $myhostname, localhost' \
	'default_transport = smtp' 'relay_transport = relay' 'smtp_host_lookup = dns'
OUT=$(postfix_port out1 465)		# SMTPS: TLS from the first byte, then AUTH
for f in out-warmup "${OUT_FAULTS[@]}"; do postfix_sasl_user out1 "$(out_user "$f")" "$PW"; done

# the load's, the probes' and the tally's common arguments
#   (FAULT_SENDER: the envelope sender, {seq} the message's number, {fault} the fault's name:
#   unique in the whole run, as Postfix's smtpd caches failed resolutions per sender)
SENDER='alice-{seq}-{fault}@sender.test'
SENDER=${FAULT_SENDER:-$SENDER}
load_args=(--port "$MX" --src "$CLIENT" --mail-from "$SENDER")

# a first message: the whole chain works before any fault
python3 "$LOADPY" probe "${load_args[@]}" --fault warmup --out "$TMP/results-warmup" --max-seconds 20 >/dev/null ||
	hard_error "no message accepted before any fault: $(cut -f3- "$TMP/results-warmup" | tail -n 3)"
sink_wait dest 1 30 || hard_error "the first message was not delivered"
pass "the chain works: a message through Postfix, mhpolicyd and mhmilter reaches the customer's server"
python3 "$LOADPY" probe --port "$OUT" --smtps --auth "$(out_user out-warmup):$PW" \
	--mail-from "$(out_user out-warmup)" --rcpt warmup@remote.test --src "$CLIENT" \
	--fault out-warmup --out "$TMP/results-out-warmup" --max-seconds 20 >/dev/null ||
	hard_error "no outbound message accepted before any fault: $(cut -f3- "$TMP/results-out-warmup" | tail -n 3)"
sink_wait remote 1 30 || hard_error "the first outbound message was not delivered"
check_that "outbound: the account's quota counter is 1" '[ "$(redis_cli redis GET "$(quota_key "$(out_user out-warmup)")")" = 1 ]'
pass "outbound: a message through Postfix (SMTPS, AUTH) and mhpolicyd reaches the recipient's MX"

# --- the faults ----------------------------------------------------------------------
# Each inject_NAME runs FAULT_AT seconds into the load and returns once the
# fault is over and the backend is back; it sets RESTORED_MS (the backend's
# return, epoch ms; empty: no recovery to measure) and may set NOTE.
# RECOVERY_REQUIRED=1: the 1 s bound of the issue applies.

inject_redis-kill() {
	redis_kill
	sleep 2
	redis_restart		# same port, same directory: loads the AOF
	RESTORED_MS=$(now_ms) RECOVERY_REQUIRED=1
	check "redis-kill: the domain survived the crash (AOF)" domain_exists
}
inject_redis-stop() {
	kill -STOP "$(redis_pid)"
	sleep 10
	kill -CONT "$(redis_pid)"
	RESTORED_MS=$(now_ms) RECOVERY_REQUIRED=1
}
inject_redis-empty() {	# inject_redis-empty [FAULT]
	redis_kill
	rm -rf "$(redis_dir)"/appendonlydir "$(redis_dir)"/appendonly.aof "$(redis_dir)"/dump.rdb
	redis_restart
	NOTE="Redis back empty at +$(( $(now_ms) - LOAD_T0 )) ms; re-provisioned 3 s later"
	sleep 3
	provision "$@"
	RESTORED_MS=$(now_ms) RECOVERY_REQUIRED=1
}
inject_policyd-kill() {
	stop_pid "${DPID[policyd]}" KILL
	sleep 0.2		# as systemd starts it again (contrib/systemd: RestartSec=200ms)
	daemon_start policyd
	RESTORED_MS=$READY_MS RECOVERY_REQUIRED=1 NOTE="${NOTE:+$NOTE; }ready $(( READY_MS - START_MS )) ms after its start"
}
inject_milter-kill() {
	stop_pid "${DPID[milter]}" KILL
	sleep 1
	daemon_start milter
	RESTORED_MS=$READY_MS RECOVERY_REQUIRED=1 NOTE="ready $(( READY_MS - START_MS )) ms after its start"
}
# term_restart DAEMON - SIGTERM mid-load (what is in hand finishes; exit 0, "stopped" logged), started again
term_restart() {
	local d=$1 t0=$(now_ms) log=${DLOG[$1]} pid=${DPID[$1]} rc
	kill -TERM "$pid"
	if ! wait_until 15 eval '! pid_alive '"$pid"; then
		fail "$d-term: still running 15 s after SIGTERM"
		stop_pid "$pid" KILL
	fi
	unregister_pid "$pid"
	wait "$pid"
	rc=$?
	NOTE="exited $(( $(now_ms) - t0 )) ms after SIGTERM"
	check_that "$d-term: mh$d exits with status 0 after SIGTERM ($rc)" '[ "$rc" = 0 ]'
	assert_match "$(cat "$log")" "mh$d: stopped" "$d-term: mh$d logged a clean stop"
	daemon_start "$d"
	RESTORED_MS=$READY_MS RECOVERY_REQUIRED=1 NOTE="${NOTE:+$NOTE; }ready $(( READY_MS - START_MS )) ms after its start"
}
inject_policyd-term() { term_restart policyd; }
inject_milter-term() { term_restart milter; }
# hup_changed DAEMON WHAT ARGS... - conf_text ARGS (a changed setting, WHAT), SIGHUP: logged "reloaded"
hup_changed() {
	local d=$1 what=$2 before
	shift 2
	before=$(grep -c "reloaded" "${DLOG[$d]}")
	conf_text "$@"
	cp "$CONF" "$TMP/mhkit.conf.good"
	kill -HUP "${DPID[$d]}"
	wait_until 5 eval '[ "$(grep -c reloaded "${DLOG[$d]}")" -gt '"$before"' ]'
	check_that "$d-hup: the changed config ($what) is loaded (logged 'reloaded')" \
		'[ "$(grep -c reloaded "${DLOG[$d]}")" -gt '"$before"' ]'
	RESTORED_MS=
}
# hup_broken DAEMON - a broken config, SIGHUP: refused and logged; 5 s under
#   load on the old one; the good one put back and reloaded
hup_broken() {
	local d=$1 before
	before=$(grep -c "reload refused" "${DLOG[$d]}")
	printf 'policyd = { listen = "inet:127.0.0.1:%s" \n this is not libconfig ;;; \n' "$PPORT" >"$CONF"
	kill -HUP "${DPID[$d]}"
	wait_until 5 eval '[ "$(grep -c "reload refused" "${DLOG[$d]}")" -gt '"$before"' ]'
	check_that "$d-hup-bad: the broken config is refused and logged" \
		'[ "$(grep -c "reload refused" "${DLOG[$d]}")" -gt '"$before"' ]'
	NOTE="$(grep "reload refused" "${DLOG[$d]}" | tail -n 1 | sed "s|$TMP/||" | cut -c1-120)"
	sleep 5			# the old settings in force, under load
	check "$d-hup-bad: mh$d still runs on the old settings" pid_alive "${DPID[$d]}"
	cp "$TMP/mhkit.conf.good" "$CONF"
	before=$(grep -c "reloaded" "${DLOG[$d]}")
	kill -HUP "${DPID[$d]}"
	wait_until 5 eval '[ "$(grep -c reloaded "${DLOG[$d]}")" -gt '"$before"' ]' ||
		fail "$d-hup-bad: the good config, restored, was not reloaded"
	RESTORED_MS=
}
inject_policyd-hup() { hup_changed policyd dns.timeout 3s; }
inject_policyd-hup-bad() { hup_broken policyd; }
inject_milter-hup() { hup_changed milter "redis.timeout: every Redis connection made again" 3s 3s; }
inject_milter-hup-bad() { hup_broken milter; }
inject_dest-refuse() {
	sink_rule dest 'rcpt * 451 4.3.0 fault injection: try again later'
	sleep 8
	sink_rules_clear dest
	RESTORED_MS=$(now_ms) RECOVERY_REQUIRED=0
	postfix_flush relay1
}
inject_dest-down() {
	sink_stop dest
	sleep 8
	sink_start dest 2525 --host 127.0.0.5
	RESTORED_MS=$(now_ms) RECOVERY_REQUIRED=0
	postfix_flush relay1
}
inject_dest-hang() {
	kill -STOP "$(sink_pid dest)"
	sleep 8
	kill -CONT "$(sink_pid dest)"
	RESTORED_MS=$(now_ms) RECOVERY_REQUIRED=0
	postfix_flush relay1
}
# the scanners: killed, hung, replaced by garbage
# garbage_for spamd|clamd - the scanner killed, garbage.py on its socket for 8 s, then the scanner again
garbage_for() {
	local sock=$SPAMD_SOCK pid=$SPAMD_PID
	[ "$1" = clamd ] && sock=$CLAMD_SOCK pid=$CLAMD_PID
	stop_pid "$pid" KILL
	start_bg "garbage-$1" python3 "$here/garbage.py" --mode "$1" --socket "$sock" --max-seconds 120
	pid=$BG_PID
	wait_until 10 test -S "$sock" || hard_error "garbage.py made no socket $sock"
	sleep 8
	stop_pid "$pid"
	NOTE="garbage.py answered $(grep -o '[0-9]* connections' "$TMP/garbage-$1.log")"
	if [ "$1" = spamd ]; then spamd_restart; else clamd_start; fi
	RESTORED_MS=$(now_ms) RECOVERY_REQUIRED=1
}
inject_spamd-kill() {
	stop_pid "$SPAMD_PID" KILL
	sleep 2
	spamd_restart
	RESTORED_MS=$(now_ms) RECOVERY_REQUIRED=1
}
inject_spamd-stop() {
	kill -STOP "$SPAMD_PID"
	pkill -STOP -P "$SPAMD_PID"	# its children too: a whole spamd hung
	sleep 10
	pkill -CONT -P "$SPAMD_PID"
	kill -CONT "$SPAMD_PID"
	RESTORED_MS=$(now_ms) RECOVERY_REQUIRED=1
}
inject_spamd-garbage() { garbage_for spamd; }
inject_clamd-kill() {
	stop_pid "$CLAMD_PID" KILL
	sleep 2
	clamd_start
	RESTORED_MS=$(now_ms) RECOVERY_REQUIRED=1
}
inject_clamd-stop() {
	kill -STOP "$CLAMD_PID"
	sleep 10
	kill -CONT "$CLAMD_PID"
	RESTORED_MS=$(now_ms) RECOVERY_REQUIRED=1
}
inject_clamd-garbage() { garbage_for clamd; }
inject_out-redis-kill() { inject_redis-kill; }
inject_out-redis-stop() { inject_redis-stop; }
inject_out-redis-empty() { inject_redis-empty out-redis-empty; }
inject_out-policyd-kill() { inject_policyd-kill; }
inject_out-policyd-term() { inject_policyd-term; }
inject_out-dest-down() {
	sink_stop remote
	sleep 8
	sink_start remote 25 --host 127.0.0.9
	RESTORED_MS=$(now_ms) RECOVERY_REQUIRED=0
	postfix_flush out1
}

# fault_role NAME - set F_PF (the Postfix instance), F_SINK (where the mail
#   arrives), F_ARGS and F_PROBE_ARGS (mailload's session arguments: the
#   load's and the probes'; the probes from an address of their own, as
#   Postfix's per-client limits count the load's)
fault_role() {
	case $1 in
	out-*)
		F_PF=out1 F_SINK=remote
		F_ARGS=(--port "$OUT" --smtps --auth "$(out_user "$1"):$PW" --mail-from "$(out_user "$1")"
			--rcpt bob@remote.test)
		;;
	*)
		F_PF=relay1 F_SINK=dest
		F_ARGS=(--port "$MX" --mail-from "$SENDER" --rcpt "$(fault_rcpt "$1")")
		;;
	esac
	F_PROBE_ARGS=("${F_ARGS[@]}" --src "$PROBE_CLIENT")
	F_ARGS+=(--src "$CLIENT")
}
# fault_rcpt NAME - the load's recipient: the scanner faults' own domains
fault_rcpt() {
	case $1 in
	spamd-*) echo bob@spam.test ;;
	clamd-*) echo bob@virus.test ;;
	*) echo bob@relay.test ;;
	esac
}

FAULTS=(redis-kill redis-stop policyd-kill milter-kill policyd-term policyd-hup policyd-hup-bad
	milter-term milter-hup milter-hup-bad
	dest-refuse dest-down dest-hang redis-empty
	spamd-kill spamd-stop spamd-garbage clamd-kill clamd-stop clamd-garbage
	"${OUT_FAULTS[@]}")
# the issue's bound is 1 s; under ASan/UBSan (SANITIZERS=yes, 2-5x slower)
# the suite looks for memory errors and loss, and the bound is a liveness one
if [ "${SANITIZERS:-no}" = yes ]; then
	RECOVERY_BOUND=5000 RECOVERY_BOUND_TEXT="5 s (sanitizer build)"
else
	RECOVERY_BOUND=1000 RECOVERY_BOUND_TEXT="1 s"
fi
TABLE=$TMP/table
printf '%-16s %6s %8s %9s %4s %4s %5s %4s %4s %7s %11s %11s  %s\n' fault sent accepted delivered lost dup 4xx 5xx err bounces recovery_ms policy_ms note >"$TABLE"

# first_delivery_after NAME EPOCH_MS - ms from EPOCH_MS to the first of the
#   fault's messages stored at the sink after it (by the file's mtime), or "never"
first_delivery_after() {
	local t
	t=$(find "$(sink_dir "$F_SINK")/msg" -name '*.eml' -newermt "@$(( $2 / 1000 )).$(printf '%03d' $(( $2 % 1000 )))" -printf '%T@\n' 2>/dev/null | sort -n | head -n 1)
	[ -n "$t" ] && echo $(( ${t%.*} * 1000 + 10#$(printf '%.3s' "${t#*.}") - $2 )) || echo never
}

# tally NAME - mailload.py tally for the fault (load and probe results)
tally() {
	python3 "$LOADPY" tally --fault "$1" --sink "$(sink_dir "$F_SINK")" \
		--results "$TMP/results-$1" --results "$TMP/probe-$1"
}

run_fault() {
	local f=$1 loadpid probepid= policypid= row lost rec pol sent acc del dup n4 n5 nerr unsent extra bounces t tries
	section "fault $f"
	RESTORED_MS= RECOVERY_REQUIRED=0 NOTE=
	: >"$TMP/results-$f"
	: >"$TMP/probe-$f"
	local b0
	b0=$(sink_count senders)
	LOAD_T0=$(now_ms)
	fault_role "$f"
	python3 "$LOADPY" load "${F_ARGS[@]}" --fault "$f" --rate "$RATE" --seconds "$SECONDS_LOAD" \
		--out "$TMP/results-$f" >"$TMP/load-$f.txt" 2>&1 &
	loadpid=$!
	register_pid "$loadpid"
	# the probes start now and wait for the fault: Python's start-up (seconds
	# on a busy machine) must not count in the recovery time
	probepid= policypid=
	case ${f#out-} in redis-* | policyd-kill | policyd-term | milter-kill | milter-term | spamd-* | clamd-*)
		python3 "$LOADPY" probe "${F_PROBE_ARGS[@]}" --overlap 20 --fault "$f" --out "$TMP/probe-$f" \
			--armed-file "$TMP/armed-$f" --restored-file "$TMP/restored-$f" \
			--max-seconds $(( SECONDS_LOAD + 30 )) >"$TMP/rec-$f" 2>&1 &
		probepid=$!
		register_pid "$probepid"
		;;
	esac
	case $f in redis-* | policyd-kill | policyd-term)
		python3 "$LOADPY" policy --port "$PPORT" --client "$CLIENT" \
			--armed-file "$TMP/armed-$f" --restored-file "$TMP/restored-$f" \
			--max-seconds $(( SECONDS_LOAD + 30 )) >"$TMP/pol-$f" 2>&1 &
		policypid=$!
		register_pid "$policypid"
		;;
	esac
	sleep "$FAULT_AT"
	echo "# $f: injecting at +$(( $(now_ms) - LOAD_T0 )) ms"
	: >"$TMP/armed-$f"
	stamp_event "$f: injecting"
	"inject_$f"
	stamp_event "$f: injected and restored (backend back at ${RESTORED_MS:-n/a})"
	[ -n "$RESTORED_MS" ] && echo "$RESTORED_MS" >"$TMP/restored-$f"
	[ -n "$RESTORED_MS" ] && echo "# $f: backend back at +$(( RESTORED_MS - LOAD_T0 )) ms"
	# the load bounds itself (its duration plus 3 timeouts); this is a backstop
	wait_until $(( SECONDS_LOAD + 120 )) eval '! pid_alive '"$loadpid" || echo "# $f: the load did not end in time"
	stop_pid "$loadpid"
	[ -n "$probepid" ] && { wait_until 60 eval '! pid_alive '"$probepid"; stop_pid "$probepid"; }
	[ -n "$policypid" ] && { wait_until 60 eval '! pid_alive '"$policypid"; stop_pid "$policypid"; }
	sed 's/^/# /' "$TMP/load-$f.txt"
	rec=$(tail -n 1 "$TMP/rec-$f" 2>/dev/null) pol=$(tail -n 1 "$TMP/pol-$f" 2>/dev/null)
	case ${f#out-} in dest-*) [ -n "$RESTORED_MS" ] && rec="$(first_delivery_after "$f" "$RESTORED_MS")*" ;; esac

	# wait until every accepted message has arrived, or the queue is empty (lost), bounded
	local deadline=$(( $(now_ms) + DRAIN * 1000 )) last_flush=0
	while :; do
		lost=$(tally "$f" | awk -F'\t' '$1 == "row" {print $6}')
		[ "$lost" = 0 ] && break
		pf_queue_empty "$F_PF" && { lost=$(tally "$f" | awk -F'\t' '$1 == "row" {print $6}'); break; }
		(( $(now_ms) >= deadline )) && break
		if (( $(now_ms) - last_flush >= 5000 )); then
			postfix_flush "$F_PF"
			last_flush=$(now_ms)
		fi
		sleep 0.5
	done
	postfix_wait_queue_empty "$F_PF" 30 || echo "# $f: the queue still holds $(postfix_queue_count "$F_PF") messages"
	sleep 1			# a duplicate would arrive now
	tally "$f" >"$TMP/tally-$f"
	row=$(awk -F'\t' '$1 == "row"' "$TMP/tally-$f")
	IFS=$'\t' read -r _ _ sent acc del lost dup n4 n5 nerr unsent extra _ <<<"$row"
	bounces=$(( $(sink_count senders) - b0 ))
	[ "$unsent" -gt 0 ] && NOTE="${NOTE:+$NOTE; }$unsent not sent (client slots busy)"
	local counted= arrived= unanswered=
	case $f in out-*)
		counted=$(redis_cli redis GET "$(quota_key "$(out_user "$f")")")
		counted=${counted:-0}
		arrived=$(grep -l -F ".$f@faults.test>" "$(sink_dir "$F_SINK")"/msg/*.eml 2>/dev/null | wc -l)
		# refused at END-OF-DATA by Postfix itself, mhpolicyd not answering: those
		# that mhpolicyd had counted when it died stay counted (doc/quota.md, "Crashes")
		unanswered=$(awk -F'\t' '$3 == "4xx" && $4 == "dot" && $6 ~ /Policy service unavailable/' \
			"$TMP/results-$f" "$TMP/probe-$f" | wc -l)
		NOTE="${NOTE:+$NOTE; }quota counter $counted, messages arrived $arrived (with probes)"
		[ "$unanswered" = 0 ] || NOTE="$NOTE, $unanswered refused at END-OF-DATA unanswered"
		;;
	esac
	printf '%-16s %6s %8s %9s %4s %4s %5s %4s %4s %7s %11s %11s  %s\n' "$f" "$sent" "$acc" "$del" "$lost" "$dup" \
		"$n4" "$n5" "$nerr" "$bounces" "${rec:-n/a}" "${pol:-n/a}" "$NOTE" >>"$TABLE"
	grep -E '^(reply|lost|dup|extra)' "$TMP/tally-$f" | head -n 12 | sed "s/^/# $f: /"

	check_that "$f: the load ran (messages accepted: $acc of $sent)" '[ "$acc" -gt 0 ]'
	check_that "$f: no duplicate ($dup)" '[ "$dup" = 0 ]'
	check_that "$f: nothing delivered that was refused ($extra)" '[ "$extra" = 0 ]'
	check_that "$f: every session got a reply after its final '.'" \
		'! awk -F"\t" '"'"'$3 == "error" && $4 == "dot"'"'"' "$TMP/results-$f" | grep -q .'
	if [ "$lost" = 0 ] && [ "$n5" = 0 ] && [ "$bounces" = 0 ]; then
		pass "$f: nothing lost (accepted $acc, delivered $del), no 5xx, no bounce"
	else
		fail "$f: lost $lost, 5xx $n5, bounces $bounces" "$(grep -E '^(reply	5xx|lost)' "$TMP/tally-$f" | head -n 10)"
	fi
	if [ "$RECOVERY_REQUIRED" = 1 ]; then
		check_that "$f: Postfix accepts mail again within $RECOVERY_BOUND_TEXT of the backend's return (${rec} ms)" \
			'[ "$rec" != never ] && [ -n "$rec" ] && [ "$rec" -le "$RECOVERY_BOUND" ]'
		[ -n "$pol" ] && check_that "$f: mhpolicyd answers a policy request within $RECOVERY_BOUND_TEXT of the backend's return (${pol} ms)" \
			'[ "$pol" != never ] && [ "$pol" -le "$RECOVERY_BOUND" ]'
	fi
	case $f in out-redis-empty)
		echo "# $f: quota counter not compared: Redis lost it with everything else (an emptied Redis)"
		;;
	out-*)
		# the account's counter: one relay for each message that arrived (load and probes)
		if [ "$unanswered" = 0 ]; then
			check_that "$f: the quota counter equals the relays of the messages delivered (counter $counted, delivered $arrived)" \
				'[ "$counted" = "$arrived" ]'
		else
			check_that "$f: the quota counter equals the relays of the messages delivered, plus at most the $unanswered refused unanswered at END-OF-DATA (counter $counted, delivered $arrived)" \
				'[ "$counted" -ge "$arrived" ] && [ "$counted" -le $((arrived + unanswered)) ]'
		fi
		;;
	spamd-*)
		# scanned, every one: tempfail means no message goes on unchecked
		local unchecked
		unchecked=$(grep -l -F ".$f@faults.test>" "$(sink_dir "$F_SINK")"/msg/*.eml 2>/dev/null |
			xargs -r grep -L -E '^X-Spam-Status: (Yes|No), score=' | wc -l)
		check_that "$f: every delivered message was scanned by spamd (X-Spam-Status with a score; $unchecked without)" \
			'[ "$unchecked" = 0 ]'
		;;
	esac
	check "$f: mhpolicyd runs" pid_alive "${DPID[policyd]}"
	check "$f: mhmilter runs" pid_alive "${DPID[milter]}"
}

for f in "${FAULTS[@]}"; do
	case " ${ONLY:-$f} " in *" $f "*) ;; *) continue ;; esac
	run_fault "$f"
done

section "done"
echo "# load: $RATE messages/s for $SECONDS_LOAD s a fault, the fault at +$FAULT_AT s; recovery in ms"
echo "# (dest-*: from the server's return, with a queue flush, to the first delivery: Postfix's schedule, not checked)"
sed 's/^/# /' "$TABLE"
[ -n "${FAULT_TABLE:-}" ] && cp "$TABLE" "$FAULT_TABLE"
done_testing
