#!/bin/bash
# bench/callahead/run.sh - mhpolicyd's call-ahead under load, and Postfix's
# own reject_unverified_recipient (verify(8)) on the same load, in a network
# namespace of its own (tests/lib/isolate.sh: only loopback, the system
# resolver is a private dnsd), against scripted SMTP servers standing for
# customers' servers (tests/lib/fakesmtp.py):
#
#  1. cache-hit decisions/s at CONNS connections (bench/policy/loadgen.c):
#     RCPT requests for addresses whose verdict is cached, against the same
#     load on a domain with --callahead off (the RCPT path without it);
#  2. p50/p99 of those cached decisions while another destination hangs
#     (fakesmtp --mode nobanner) and new addresses of its domain keep
#     arriving (trickle.py: one every HANG_INTERVAL s), against the same
#     load without them, at each of P99_CONNS connections; controls: the
#     hanging domain's traffic to a second mhpolicyd on the same Redis
#     ("other": what the same work costs from outside the process), or to
#     one with max_per_destination 1000 ("nocap": no waiting for a slot);
#  3. probes per address when BURST policy requests for one new address
#     arrive at once (the RCPT lines the destination saw), BURST_ADDRS
#     addresses a run;
#  4. through a private Postfix smtpd (smtpload.c, SMTP): probes per address
#     when BURST SMTP clients send RCPT TO for one new address at once, with
#     check_policy_service -> mhpolicyd and with reject_unverified_recipient;
#     and RCPTs/s at CONNS connections on the cached path of each, with
#     mhpolicyd on a --callahead off domain, and with no recipient check.
#
# Each measurement runs RUNS times (the orders of the variants rotate from
# run to run) and the medians are reported; prints tables and ratios
# against the targets, asserts nothing. About 9 minutes with the defaults.
#
# Usage: bench/callahead/run.sh        (from the top of the tree, after make; as root)
# Environment:
#   RUNS=3                 runs of each measurement (the median is reported)
#   DURATION=5 WARMUP=1    seconds recorded / warm-up of each load run
#   CONNS=8                connections of the throughput runs (1, 4)
#   P99_CONNS="1 8"        connections of the latency runs (2)
#   ADDRS=64               cached addresses the load cycles over
#   HANG_INTERVAL=0.05 HANG_RAMP=8   a new address of the hanging domain every
#                          HANG_INTERVAL s, starting HANG_RAMP s before the load
#   M2_CONTROLS=other      controls of 2: "other", "nocap", both or none ("")
#   BURST=64 BURST_ADDRS=5 PF_BURST_ADDRS=2   concurrent requests for one
#                          address; addresses a run (3), (4)
#   POSTFIX=1              0: skip measurement 4
#   MEASURE="1 2 3 4"      the measurements to run
#   MHPOLICYD, MHLIST      the binaries (default build/...)
#   OUT=FILE               also write every run as one JSON line to FILE
#   KEEP_TMP=1             keep the temporary directory (logs)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
TESTS_LIB=${TESTS_LIB:-$top/tests/lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/dns.sh"
. "$TESTS_LIB/redis.sh"
MEASURE=${MEASURE:-"1 2 3 4"}
want() { case " $MEASURE " in *" $1 "*) return 0 ;; esac; return 1; }
POSTFIX=${POSTFIX:-1}
want 4 || POSTFIX=0
[ "$POSTFIX" = 1 ] && . "$TESTS_LIB/postfix.sh"

MHPOLICYD=${MHPOLICYD:-$top/build/policyd/mhpolicyd}
MHLIST=${MHLIST:-$top/build/mhlist/mhlist}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-8}
P99_CONNS=${P99_CONNS:-"1 8"}
ADDRS=${ADDRS:-64}
HANG_INTERVAL=${HANG_INTERVAL:-0.05}
HANG_RAMP=${HANG_RAMP:-8}
M2_CONTROLS=${M2_CONTROLS:-other}
m2c() { case " $M2_CONTROLS " in *" $1 "*) want 2 && return 0 ;; esac; return 1; }
BURST=${BURST:-64}
BURST_ADDRS=${BURST_ADDRS:-5}
PF_BURST_ADDRS=${PF_BURST_ADDRS:-2}
CC=${CC:-gcc}
MAXREQ=100000000		# -n bound of every load run, on top of DURATION
NODE=mx1.relay.test
PY=/usr/bin/python3
WIRE="$PY $TESTS_LIB/wire.py"
T0=$(date +%s)

for f in "$MHPOLICYD" "$MHLIST"; do
	[ -x "$f" ] || hard_error "no $f (build first, or set MHPOLICYD / MHLIST)"
done
[ "$ADDRS" -ge 1 ] && [ "$ADDRS" -le 256 ] || hard_error "ADDRS: 1..256 (loadgen takes 256 recipients)"
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

echo "# building loadgen (bench/policy/loadgen.c) and smtpload (bench/callahead/smtpload.c)"
$CC -std=c11 -O2 -Wall -Wextra -Werror -o "$TMP/loadgen" "$top/bench/policy/loadgen.c" || hard_error "loadgen did not build"
$CC -std=c11 -O2 -Wall -Wextra -Werror -o "$TMP/smtpload" "$here/smtpload.c" || hard_error "smtpload did not build"
LOADGEN=$TMP/loadgen
SMTPLOAD=$TMP/smtpload

# --- results: one line "KEY VALUE" per run; med KEY prints the median ---------------------
: >"$TMP/results"
rec() { echo "$1 $2" >>"$TMP/results"; }
med() {
	awk -v k="$1" '$1 == k { print $2 }' "$TMP/results" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
vals() { awk -v k="$1" '$1 == k { printf "%s%s", sep, $2; sep = " " }' "$TMP/results"; }
jget() {	# jget KEY JSON - a number or string of a --json line
	sed -n "s/.*\"$1\":\\(\"[^\"]*\"\\|[^,}]*\\).*/\\1/p" <<<"$2" | tr -d '"'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "-") printf "%.3f", a / b; else print "-" }'; }
ms() { awk -v v="$1" 'BEGIN { printf "%.3f", v / 1000 }'; }
fmt0() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.0f", v }'; }
findings=()
finding() { findings+=("$*"); echo "# FINDING: $*"; }
out_json() { [ -n "${OUT:-}" ] && echo "{\"bench\":\"$1\",${2#\{}" >>"$OUT"; return 0; }

# --- DNS, the customers' servers, Redis, mhpolicyd ----------------------------------------
cat >"$TMP/zone" <<EOF
test ZONE
mx1.relay.test   A 127.0.0.1
ca.test          MX 10 mx1.relay.test
off.test         MX 10 mx1.relay.test
hang.test        MX 10 mx1.relay.test
slow.test        MX 10 mx1.relay.test
ok.dest.test     A 127.0.0.11
hang.dest.test   A 127.0.0.12
hang2.test       MX 10 mx1.relay.test
hang2.dest.test  A 127.0.0.14
hang3.test       MX 10 mx1.relay.test
hang3.dest.test  A 127.0.0.15
slow.dest.test   A 127.0.0.13
EOF
dns_start "$TMP/zone"

# fakesmtp NAME ADDR MODE [DELAY] - a customer's server on ADDR:2525; its log is $TMP/NAME.smtp.log
fakesmtp() {
	start_bg "smtp-$1" "$PY" "$TESTS_LIB/fakesmtp.py" --host "$2" --port 2525 --mode "$3" \
		--delay "${4:-1}" --log "$TMP/$1.smtp.log"
	wait_until 10 test -s "$TMP/$1.smtp.log.ready" || hard_error "fakesmtp $1: $(cat "$TMP/smtp-$1.log")"
}
fakesmtp ok 127.0.0.11 ok
fakesmtp hang 127.0.0.12 nobanner
m2c other && fakesmtp hang2 127.0.0.14 nobanner
m2c nocap && fakesmtp hang3 127.0.0.15 nobanner
fakesmtp slow 127.0.0.13 slow 0.2
# probes NAME ADDRESS - RCPTs for ADDRESS the server NAME has seen; rcpts_all NAME - all RCPTs
probes() { grep -c " RCPT TO:<$2>" "$TMP/$1.smtp.log" || true; }
rcpts_all() { grep -c ' RCPT TO:' "$TMP/$1.smtp.log" || true; }
connects() { grep -c ' connect ' "$TMP/$1.smtp.log" || true; }

redis_start
PPORT=$(free_port)
SPORT=$(free_port)
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF" "policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; };
node = { hostnames = [\"$NODE\"]; };
dns = { servers = [\"127.0.0.1@53\"]; timeout = \"2s\"; };
callahead = { helo = \"$NODE\"; connect_timeout = \"2s\"; reply_timeout = \"3s\"; };"
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null || hard_error "mhlist $*"; }
mh domain add ca.test --service relay --dest ok.dest.test --port 2525
mh domain add off.test --service relay --dest ok.dest.test --port 2525 --callahead off
mh domain add hang.test --service relay --dest hang.dest.test --port 2525
mh domain add slow.test --service relay --dest slow.dest.test --port 2525
mh domain add hang2.test --service relay --dest hang2.dest.test --port 2525
mh domain add hang3.test --service relay --dest hang3.dest.test --port 2525

start_bg mhpolicyd "$MHPOLICYD" -c "$CONF" -f
POLICYD_PID=$BG_PID
wait_until 10 grep -q "ready" "$TMP/mhpolicyd.log" || hard_error "mhpolicyd did not start: $(cat "$TMP/mhpolicyd.log")"
# the controls of 2: "other", a second mhpolicyd with the same settings (the
# hanging domain's traffic goes there while the load goes to the first: the
# same work on the same 2 cores, outside the process under load); "nocap",
# a third with max_per_destination = 1000 (no waiting for a slot)
# start_policyd NAME SED-EXPR - another mhpolicyd on the same Redis; sets NEW_PORT, NEW_PID
start_policyd() {
	local p s
	p=$(free_port) s=$(free_port)
	sed -e "s/:$PPORT\"/:$p\"/; s/:$SPORT\"/:$s\"/; $2" "$CONF" >"$TMP/$1.conf"
	start_bg "$1" "$MHPOLICYD" -c "$TMP/$1.conf" -f
	NEW_PID=$BG_PID NEW_PORT=$p
	wait_until 10 grep -q "ready" "$TMP/$1.log" || hard_error "$1 did not start: $(cat "$TMP/$1.log")"
	EXTRA_PIDS+=("$BG_PID")
}
EXTRA_PIDS=()
if m2c other; then
	start_policyd mhpolicyd-other ''
	OTHER_PORT=$NEW_PORT OTHER_PID=$NEW_PID
fi
if m2c nocap; then
	start_policyd mhpolicyd-nocap 's/reply_timeout = "3s";/reply_timeout = "3s"; max_per_destination = 1000;/'
	grep -q "max_per_destination = 1000" "$TMP/mhpolicyd-nocap.conf" || hard_error "mhpolicyd-nocap.conf: $(cat "$TMP/mhpolicyd-nocap.conf")"
	NOCAP_PORT=$NEW_PORT NOCAP_PID=$NEW_PID
fi
alive() {
	local p
	for p in "$POLICYD_PID" "${EXTRA_PIDS[@]+"${EXTRA_PIDS[@]}"}"; do
		pid_alive "$p" || break
		p=
	done
	[ -z "$p" ] && return 0
	finding "mhpolicyd exited ($1); log: $(tail -n 5 "$TMP/mhpolicyd.log" | tr '\n' '|')"
	hard_error "mhpolicyd is gone"
}

# the traffic of the load runs: ADDRS local parts, 3 senders, 16 clients (as bench/policy)
LOCALS=$(seq -f 'user%g' "$ADDRS")
list_at() { sed "s/\$/@$1/" <<<"$LOCALS" | paste -sd, -; }
SENDERS=newsletter@shop.example,jane@partner.example,info@news.example
CLIENTS=$(for i in $(seq 10 25); do
	if [ $((i % 2)) = 0 ]; then printf '203.0.113.%d,' "$i"; else printf '198.51.100.%d,' "$i"; fi
done)
CLIENTS=${CLIENTS%,}
# policy_req RCPT SENDER CLIENT - one RCPT request as wire.py reads them
policy_req() {
	printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=%s\nclient_name=unknown\nhelo_name=c.test\nsender=%s\nrecipient=%s\nqueue_id=\n\n' \
		"$3" "$2" "$1"
}

# pre-warm: one request per address of ca.test, one at a time: one real probe each
for l in $LOCALS; do policy_req "$l@ca.test" a@sender.test 192.0.2.1; done >"$TMP/warm"
warm=$(WIRE_TIMEOUT=30 $WIRE exchange 127.0.0.1 "$PPORT" "$TMP/warm")
[ "$(grep -c '^action=DUNNO$' <<<"$warm")" = "$ADDRS" ] || hard_error "pre-warm: not $ADDRS x DUNNO: $(sort <<<"$warm" | uniq -c | head -3)"
[ "$(rcpts_all ok)" = "$ADDRS" ] || finding "pre-warm of $ADDRS addresses made $(rcpts_all ok) probes"
cached=$(redis_cli redis --scan --pattern 'mh:{ca.test}:ca:*' | wc -l)
[ "$cached" = "$ADDRS" ] || hard_error "pre-warm: $cached verdicts in Redis, not $ADDRS"
echo "# pre-warm: $ADDRS addresses of ca.test probed once each; e.g. $(redis_cli redis GET 'mh:{ca.test}:ca:user1')"
OK_PROBES=$(rcpts_all ok)

# load DOMAIN CONNS - one loadgen run over the ADDRS addresses of DOMAIN; prints its JSON line
load() {
	"$LOADGEN" -s "inet:127.0.0.1:${LPORT:-$PPORT}" -c "$2" -d "$DURATION" -w "$WARMUP" -n "$MAXREQ" \
		-r "$(list_at "$1")" -f "$SENDERS" -a "$CLIENTS" -e DUNNO --json
}
# what mhpolicyd and Redis did during a run: CPU (% of one core) and Redis commands
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
redis_cmds() { redis_cli redis INFO stats | sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p'; }
usage_start() { U_T=$(date +%s%N) U_MH=$(cpu_ticks "${LPID:-$POLICYD_PID}") U_R=$(cpu_ticks "$(redis_pid redis)") U_C=$(redis_cmds); }
usage_end() {	# usage_end RPS - sets U_LINE, U_MHCPU, U_RCPU, U_CPR (Redis commands per request)
	local dt=$(( $(date +%s%N) - U_T )) mh r c
	mh=$(cpu_ticks "${LPID:-$POLICYD_PID}") r=$(cpu_ticks "$(redis_pid redis)") c=$(redis_cmds)
	U_MHCPU=$(awk -v a="$U_MH" -v b="$mh" -v t="$dt" -v k="$CLK_TCK" 'BEGIN { printf "%.0f", (b - a) / k / (t / 1e9) * 100 }')
	U_RCPU=$(awk -v a="$U_R" -v b="$r" -v t="$dt" -v k="$CLK_TCK" 'BEGIN { printf "%.0f", (b - a) / k / (t / 1e9) * 100 }')
	U_CPS=$(awk -v a="$U_C" -v b="$c" -v t="$dt" 'BEGIN { printf "%.0f", (b - a - 2) / (t / 1e9) }')
	U_US=$(awk -v c="$U_MHCPU" -v q="$1" 'BEGIN { if (q > 0) printf "%.1f", c * 1e4 / q; else print "-" }')
	U_CPR=$(awk -v s="$U_CPS" -v q="$1" 'BEGIN { if (q > 0) printf "%.2f", s / q; else print "-" }')
	U_LINE="mhpolicyd ${U_MHCPU}% (${U_US} us/req), redis ${U_RCPU}% of a core; redis ${U_CPS} cmd/s"
}
# load_rec KEY DOMAIN CONNS - a run, recorded as KEY.rps, KEY.p50, KEY.p99; prints a line
load_rec() {
	local j
	usage_start
	j=$(load "$2" "$3" 2>"$TMP/loadgen.err") || { finding "$1: loadgen failed: $(cat "$TMP/loadgen.err")"; return; }
	usage_end "$(jget rps "$j")"
	out_json "$1" "$j"
	rec "$1.rps" "$(jget rps "$j")"
	rec "$1.p50" "$(jget p50_us "$j")"
	rec "$1.p99" "$(jget p99_us "$j")"
	rec "$1.mhcpu" "$U_MHCPU"
	rec "$1.rcpu" "$U_RCPU"
	rec "$1.cps" "$U_CPS"
	rec "$1.us" "$U_US"
	printf '#   %-14s %7.0f req/s  p50 %6s ms  p99 %6s ms  errors %s  other %s; %s\n' "$1" "$(jget rps "$j")" \
		"$(ms "$(jget p50_us "$j")")" "$(ms "$(jget p99_us "$j")")" "$(jget errors "$j")" "$(jget answers_other "$j")" "$U_LINE"
	[ "$(jget errors "$j")" = 0 ] || finding "$1: $(jget errors "$j") errors (first: $(jget first_error "$j"))"
	[ "$(jget answers_other "$j")" = 0 ] || finding "$1: $(jget answers_other "$j") answers other than DUNNO (first: $(jget first_other "$j"))"
	alive "$1"
}

echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $RUNS runs each, medians; $DURATION s recorded after $WARMUP s warm-up"

# --- 1. cache-hit decisions/s ---------------------------------------------------------------
want 1 && echo "# 1. cached verdicts vs --callahead off, $CONNS connections"
want 1 && for r in $(seq "$RUNS"); do
	if [ $((r % 2)) = 1 ]; then order="off ca"; else order="ca off"; fi
	for v in $order; do load_rec "m1.$v" "$v.test" "$CONNS"; done
done
n=$(rcpts_all ok)
[ "$n" = "$OK_PROBES" ] || finding "cached runs made $((n - OK_PROBES)) probes (the verdicts were cached)"

# --- 2. p99 with a hanging destination ---------------------------------------------------------
want 2 && echo "# 2. cached decisions while hang.test's server hangs (a new address every $HANG_INTERVAL s)"
gone() { ! pid_alive "$1"; }
# the trickle's bound: the ramp and the loaded runs with 60 s to spare (it is stopped before)
hang_count=$(awk -v r="$HANG_RAMP" -v d="$DURATION" -v w="$WARMUP" -v i="$HANG_INTERVAL" -v n="$(wc -w <<<"$P99_CONNS")" \
	'BEGIN { printf "%d", (r + n * (d + w) + 60) / i }')
# hang_phase KEY DOMAIN RUN RAMP TPORT - new addresses of DOMAIN every HANG_INTERVAL s
# to the mhpolicyd on TPORT; after RAMP s, the cached load at each of P99_CONNS to
# the one on LPORT (LPID); then
# the flow stops (SIGUSR1) and the trickle waits until the last of its requests
# is answered (within connect_timeout + 5 x reply_timeout = 17 s)
hang_phase() {
	local key=$1 dom=$2 r=$3 t tpid
	usage_start
	start_bg "trickle-$key-$r" "$PY" "$here/trickle.py" 127.0.0.1 "$5" "$dom" "r${r}n" "$hang_count" "$HANG_INTERVAL" 40
	tpid=$BG_PID
	sleep "$4"
	usage_end 0
	rec "$key.ramp.mhcpu" "$U_MHCPU"
	rec "$key.ramp.cps" "$U_CPS"
	echo "#   ($dom alone for $4 s: mhpolicyd under load ${U_MHCPU}% of a core, redis ${U_RCPU}%, ${U_CPS} cmd/s)"
	for c in $P99_CONNS; do load_rec "$key.c$c" ca.test "$c"; done
	pid_alive "$tpid" || finding "$key run $r: the trickle ended before the loaded runs did"
	kill -USR1 "$tpid" 2>/dev/null
	wait_until 60 gone "$tpid" || finding "$key run $r: trickle still running after 60 s"
	stop_pid "$tpid"
	t=$(cat "$TMP/trickle-$key-$r.log")
	echo "#   trickle: $t"
	case $t in *" unanswered=0 "*) ;; *) finding "$key run $r: $dom requests unanswered: $t" ;; esac
	rec "$key.sent" "$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$t")"
}
if want 2; then
	LPORT=$PPORT LPID=$POLICYD_PID
	for r in $(seq "$RUNS"); do
		for c in $P99_CONNS; do load_rec "m2.base.c$c" ca.test "$c"; done
		hang_phase m2.hang hang.test "$r" "$HANG_RAMP" "$PPORT"
		m2c other && hang_phase m2.other hang2.test "$r" "$HANG_RAMP" "$OTHER_PORT"
		if m2c nocap; then
			LPORT=$NOCAP_PORT LPID=$NOCAP_PID
			hang_phase m2.nocap hang3.test "$r" 4 "$NOCAP_PORT"
			LPORT=$PPORT LPID=$POLICYD_PID
		fi
	done
fi
most_open() { sed -n 's/.* connect [0-9]* open=\([0-9]*\)$/\1/p' "$TMP/$1.smtp.log" | sort -n | tail -n 1; }
HANG_CONNECTS=$(connects hang)
HANG_MOST=$(most_open hang)
BUSY=$(grep -c 'hang.dest.test:2525 has had .* probes in flight too long' "$TMP/mhpolicyd.log" || true)

# --- 3. probes per address, BURST policy requests at once ------------------------------------------
want 3 && echo "# 3. $BURST policy requests at once for one new address of slow.test (each reply 0.2 s late)"
want 3 && for r in $(seq "$RUNS"); do
	for a in $(seq "$BURST_ADDRS"); do
		addr="b${r}x$a@slow.test"
		for i in $(seq "$BURST"); do policy_req "$addr" "s$i@sender.test" "192.0.2.$i"; done >"$TMP/burst"
		out=$(WIRE_TIMEOUT=30 $WIRE scatter 127.0.0.1 "$PPORT" "$TMP/burst")
		ok=$(grep -c '^action=DUNNO$' <<<"$out")
		p=$(probes slow "$addr")
		rec m3.probes "$p"
		rec "m3.run$r" "$p"
		echo "#   $addr: $p probe(s), $ok of $BURST answered DUNNO"
		[ "$ok" = "$BURST" ] || finding "$addr: $((BURST - ok)) of $BURST not DUNNO: $(grep -v '^action=DUNNO$' <<<"$out" | sort | uniq -c | head -2 | tr '\n' ' ')"
		[ "$p" = 1 ] || finding "$addr: $p probes for $BURST concurrent requests (want 1)"
	done
	alive "burst run $r"
done

# --- 4. Postfix: check_policy_service -> mhpolicyd vs reject_unverified_recipient --------------------
if [ "$POSTFIX" = 1 ]; then
	echo "# 4. through Postfix $(postconf -dh mail_version) smtpd"
	fakesmtp vok 127.0.0.17 ok
	fakesmtp vslow 127.0.0.16 slow 0.2
	postfix_start pfmh \
		"myhostname = $NODE" \
		'relay_domains = ca.test off.test slow.test' \
		'transport_maps = inline:{ ca.test=smtp:[127.0.0.11]:2525, off.test=smtp:[127.0.0.11]:2525, slow.test=smtp:[127.0.0.13]:2525 }' \
		"smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service inet:127.0.0.1:$PPORT" \
		'smtpd_policy_service_timeout = 100s' \
		'smtpd_policy_service_default_action = 451 4.3.5 Policy service unavailable; try again later'
	postfix_start pfverify \
		'myhostname = verify.relay.test' \
		'relay_domains = vok.test vslow.test' \
		'transport_maps = inline:{ vok.test=smtp:[127.0.0.17]:2525, vslow.test=smtp:[127.0.0.16]:2525 }' \
		'smtpd_recipient_restrictions = reject_unauth_destination, reject_unverified_recipient' \
		'unverified_recipient_reject_code = 550'
	postfix_start pfplain \
		'myhostname = plain.relay.test' \
		'relay_domains = plain.test' \
		'transport_maps = inline:{ plain.test=smtp:[127.0.0.11]:2525 }' \
		'smtpd_recipient_restrictions = reject_unauth_destination'
	PF_MH=127.0.0.1:$(postfix_port pfmh)
	PF_VERIFY=127.0.0.1:$(postfix_port pfverify)
	PF_PLAIN=127.0.0.1:$(postfix_port pfplain)

	# burst_rec KEY SERVER FAKESMTP ADDRESS - BURST SMTP clients, one RCPT each for ADDRESS
	burst_rec() {
		local j p before settle=0
		j=$("$SMTPLOAD" -m burst -s "$2" -c "$BURST" -r "$4" -t 60 --json 2>"$TMP/smtpload.err") ||
			{ finding "$1 $4: smtpload failed: $(cat "$TMP/smtpload.err")"; return; }
		out_json "$1" "$j"
		# a probe of Postfix's may still be on its way: let the count settle (1 s without change, 10 s at most)
		before=$(probes "$3" "$4")
		while [ "$settle" -lt 10 ]; do
			sleep 1
			settle=$((settle + 1))
			p=$(probes "$3" "$4")
			[ "$p" = "$before" ] && break
			before=$p
		done
		p=$(probes "$3" "$4")
		rec "$1.probes" "$p"
		rec "$1.slowest" "$(jget slowest_ms "$j")"
		first4=$(jget first_4xx "$j")
		echo "#   $1 $4: $p probe(s); RCPT 2xx $(jget rcpt_2xx "$j"), 4xx $(jget rcpt_4xx "$j"), 5xx $(jget rcpt_5xx "$j"), unanswered $(jget unanswered "$j"); slowest $(jget slowest_ms "$j") ms${first4:+; first 4xx: $first4}"
		[ "$(jget errors "$j")" = 0 ] || finding "$1 $4: smtpload errors: $(jget first_error "$j")"
		[ "$1" = m4b.mh ] && [ "$p" != 1 ] && finding "$4 through Postfix: $p probes for $BURST concurrent RCPTs (want 1)"
		[ "$1" = m4b.mh ] && [ "$(jget rcpt_2xx "$j")" != "$BURST" ] && finding "$4 through Postfix: $(jget rcpt_2xx "$j") of $BURST RCPTs accepted"
		return 0
	}
	# smtp_rec KEY SERVER DOMAIN - one RCPT rate run at CONNS connections over the ADDRS addresses of DOMAIN
	smtp_rec() {
		local j
		j=$("$SMTPLOAD" -s "$2" -c "$CONNS" -d "$DURATION" -w "$WARMUP" -n "$MAXREQ" -r "$(list_at "$3")" --json 2>"$TMP/smtpload.err") ||
			{ finding "$1: smtpload failed: $(cat "$TMP/smtpload.err")"; return; }
		out_json "$1" "$j"
		rec "$1.rps" "$(jget rps "$j")"
		rec "$1.p50" "$(jget p50_us "$j")"
		rec "$1.p99" "$(jget p99_us "$j")"
		printf '#   %-22s %9.0f RCPT/s  p50 %7s ms  p99 %7s ms  2xx %s 4xx %s 5xx %s errors %s\n' "$1" "$(jget rps "$j")" \
			"$(ms "$(jget p50_us "$j")")" "$(ms "$(jget p99_us "$j")")" "$(jget rcpt_2xx "$j")" "$(jget rcpt_4xx "$j")" \
			"$(jget rcpt_5xx "$j")" "$(jget errors "$j")"
		[ "$(jget rcpt_4xx "$j")" = 0 ] && [ "$(jget rcpt_5xx "$j")" = 0 ] || finding "$1: RCPTs refused (first: $(jget first_other "$j"))"
		[ "$(jget errors "$j")" = 0 ] || finding "$1: $(jget errors "$j") errors (first: $(jget first_error "$j"))"
		alive "$1"
	}

	echo "# 4a. $BURST SMTP clients at once, RCPT TO one new address"
	for r in $(seq "$RUNS"); do
		for a in $(seq "$PF_BURST_ADDRS"); do
			burst_rec m4b.mh "$PF_MH" slow "p${r}x$a@slow.test"
			burst_rec m4b.verify "$PF_VERIFY" vslow "p${r}x$a@vslow.test"
		done
	done

	# pre-verify vok.test's addresses in verify(8)'s cache: RCPT each until 250 (5 rounds at most)
	for round in 1 2 3 4 5; do
		j=$("$SMTPLOAD" -m burst -s "$PF_VERIFY" -c "$ADDRS" -r "$(list_at vok.test)" -t 60 --json)
		[ "$(jget rcpt_2xx "$j")" = "$ADDRS" ] && break
		sleep 1
	done
	[ "$(jget rcpt_2xx "$j")" = "$ADDRS" ] || finding "verify(8) pre-warm: $(jget rcpt_2xx "$j") of $ADDRS accepted after 5 rounds ($(jget first_4xx "$j"))"
	echo "# pre-warm: $ADDRS addresses of vok.test verified in $round round(s) of RCPTs, $(rcpts_all vok) probes"
	VOK_PROBES=$(rcpts_all vok)

	echo "# 4b. RCPT/s through smtpd, $CONNS SMTP connections, $ADDRS cached addresses"
	variants=(plain mhoff mh verify)
	for r in $(seq "$RUNS"); do
		for k in 0 1 2 3; do
			v=${variants[$(((k + r - 1) % 4))]}
			case $v in
			plain) smtp_rec m4r.plain "$PF_PLAIN" plain.test ;;
			mhoff) smtp_rec m4r.mhoff "$PF_MH" off.test ;;
			mh) smtp_rec m4r.mh "$PF_MH" ca.test ;;
			verify) smtp_rec m4r.verify "$PF_VERIFY" vok.test ;;
			esac
		done
	done
	n=$(rcpts_all ok)
	[ "$n" = "$OK_PROBES" ] || finding "cached RCPTs through Postfix made $((n - OK_PROBES)) probes at ok.dest.test"
	n=$(rcpts_all vok)
	[ "$n" = "$VOK_PROBES" ] || echo "# note: verify(8) probed vok.test $((n - VOK_PROBES)) more times during the cached runs"
fi

# --- mhpolicyd's log ------------------------------------------------------------------------
alive "the end"
w=$(grep -E 'warning|error|fatal|panic' "$TMP/mhpolicyd.log" | grep -v 'running as root' | grep -v 'verification loop' || true)
[ -n "$w" ] && finding "mhpolicyd logged $(grep -c . <<<"$w") warnings/errors, e.g.: $(head -n 2 <<<"$w" | tr '\n' '|')"

# --- the table --------------------------------------------------------------------------------
verdict() {	# verdict VALUE OP LIMIT - "met" / "not met"
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN { if (v == "-") { print "?"; exit }
		ok = (op == "<=") ? (v <= l) : (op == ">=") ? (v >= l) : (v == l); print ok ? "met" : "NOT met" }'
}
echo
echo "== results: medians of $RUNS runs ($(nproc) cores shared with the load generators; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
echo
if want 1; then
echo "1. cache-hit decisions/s, $CONNS connections (policy protocol; runs in brackets)"
off=$(med m1.off.rps) ca=$(med m1.ca.rps)
printf '   %-34s %9s req/s  p50 %s ms  p99 %s ms  [%s]\n' "--callahead off (no call-ahead)" "$(fmt0 "$off")" \
	"$(ms "$(med m1.off.p50)")" "$(ms "$(med m1.off.p99)")" "$(vals m1.off.rps | xargs -n1 printf '%.0f ' | sed 's/ $//')"
printf '   %-34s %9s req/s  p50 %s ms  p99 %s ms  [%s]\n' "cached verdict (cache hit)" "$(fmt0 "$ca")" \
	"$(ms "$(med m1.ca.p50)")" "$(ms "$(med m1.ca.p99)")" "$(vals m1.ca.rps | xargs -n1 printf '%.0f ' | sed 's/ $//')"
r1=$(ratio "$ca" "$off")
echo "   ratio cache hit / off = $r1 (target >= 0.90: $(verdict "$r1" '>=' 0.90))"
echo "   mhpolicyd CPU per request (medians): $(med m1.off.us) us off, $(med m1.ca.us) us cached (runs [$(vals m1.off.us)] / [$(vals m1.ca.us)]);"
echo "   CPU (% of a core): mhpolicyd $(med m1.off.mhcpu) / $(med m1.ca.mhcpu), redis $(med m1.off.rcpu) / $(med m1.ca.rcpu); redis commands/s (warm-up included) $(med m1.off.cps) / $(med m1.ca.cps) (off / cached)"
echo
fi
if want 2; then
runs() { vals "$1" | xargs -n1 printf '%.0f ' | sed 's/ $//'; }
echo "2. cached decisions (ca.test) while hang.test's server hangs: a new address every $HANG_INTERVAL s, reply_timeout 3 s,"
echo "   max_per_destination 4 (the default). Controls: \"other\": that domain's traffic to a second mhpolicyd (same settings, same"
echo "   Redis) while the load goes to the first; \"nocap\": all of it to a third one with max_per_destination 1000"
printf '   %5s  %-28s %9s %9s %9s %6s  %s\n' conns "" 'p50 ms' 'p99 ms' 'req/s' 'p99 x' 'p99 of each run (us)'
for c in $P99_CONNS; do
	b=$(med "m2.base.c$c.p99")
	for v in base hang other nocap; do
		[ "$v" = base ] || [ "$v" = hang ] || m2c "$v" || continue
		case $v in
		base) d="no hanging destination" ;;
		hang) d="hanging, same process" ;;
		other) d="hanging, other process" ;;
		nocap) d="hanging, max_per_dest. 1000" ;;
		esac
		x=$(ratio "$(med "m2.$v.c$c.p99")" "$b")
		printf '   %5s  %-28s %9s %9s %9s %6s  [%s]%s\n' "$c" "$d" "$(ms "$(med "m2.$v.c$c.p50")")" "$(ms "$(med "m2.$v.c$c.p99")")" \
			"$(fmt0 "$(med "m2.$v.c$c.rps")")" "$x" "$(runs "m2.$v.c$c.p99")" \
			"$(case $v in hang) echo "  target <= 1.10: $(verdict "$x" '<=' 1.10)" ;; other | nocap) echo "  (control)" ;; esac)"
	done
	m2c other && echo "          p99 same process / other process = $(ratio "$(med "m2.hang.c$c.p99")" "$(med "m2.other.c$c.p99")")"
done
echo "   CPU of the mhpolicyd under load per cached request (us, medians): $(for c in $P99_CONNS; do printf '%s conns: %s / %s / %s / %s; ' "$c" "$(med "m2.base.c$c.us")" "$(med "m2.hang.c$c.us")" "$(med "m2.other.c$c.us")" "$(med "m2.nocap.c$c.us")"; done | sed 's/; $//')"
echo "   (no hang / same process / other process / nocap); Redis during the loaded runs: $(for c in $P99_CONNS; do printf '%s conns %s / %s / %s / %s cmd/s; ' "$c" "$(med "m2.base.c$c.cps")" "$(med "m2.hang.c$c.cps")" "$(med "m2.other.c$c.cps")" "$(med "m2.nocap.c$c.cps")"; done | sed 's/; $//')"
echo "   hang.test: $(vals m2.hang.sent | tr ' ' '+') requests; its server saw $HANG_CONNECTS connections, at most ${HANG_MOST:-0} open at once (fakesmtp's count); $BUSY answered \"destination busy\""
m2c other && echo "   hang2.test (other): $(vals m2.other.sent | tr ' ' '+') requests; its server saw $(connects hang2) connections, at most $(most_open hang2) open at once"
m2c nocap && echo "   hang3.test (nocap): $(vals m2.nocap.sent | tr ' ' '+') requests; its server saw $(connects hang3) connections, at most $(most_open hang3) open at once"
echo
fi
if want 3; then
echo "3. probes per address, $BURST policy requests at once (x $BURST_ADDRS addresses x $RUNS runs)"
for r in $(seq "$RUNS"); do echo "   run $r: $(vals "m3.run$r")"; done
p3=$(awk '$1 == "m3.probes" && $2 != 1 { n++ } END { print n + 0 }' "$TMP/results")
echo "   addresses with other than exactly 1 probe: $p3 of $(vals m3.probes | wc -w) (target: every one exactly 1: $([ "$p3" = 0 ] && echo met || echo 'NOT met'))"
fi
if [ "$POSTFIX" = 1 ]; then
	echo
	echo "4. through Postfix smtpd"
	echo "   a. probes per address, $BURST SMTP clients at once for one new address ($PF_BURST_ADDRS addresses x $RUNS runs)"
	echo "      check_policy_service -> mhpolicyd:   probes [$(vals m4b.mh.probes)], slowest RCPT reply median $(med m4b.mh.slowest) ms"
	echo "      reject_unverified_recipient (verify): probes [$(vals m4b.verify.probes)], slowest RCPT reply median $(med m4b.verify.slowest) ms"
	echo "   b. RCPT/s at $CONNS SMTP connections (cached verdicts), runs in brackets"
	for v in plain mhoff mh verify; do
		case $v in
		plain) d="no recipient check" ;;
		mhoff) d="mhpolicyd, --callahead off" ;;
		mh) d="mhpolicyd, cached verdict" ;;
		verify) d="reject_unverified_recipient, cached" ;;
		esac
		printf '      %-36s %7s RCPT/s  p50 %s ms  p99 %s ms  [%s]\n' "$d" "$(fmt0 "$(med "m4r.$v.rps")")" \
			"$(ms "$(med "m4r.$v.p50")")" "$(ms "$(med "m4r.$v.p99")")" "$(vals "m4r.$v.rps" | xargs -n1 printf '%.0f ' | sed 's/ $//')"
	done
	echo "      mhpolicyd cached / --callahead off = $(ratio "$(med m4r.mh.rps)" "$(med m4r.mhoff.rps)");" \
		"/ reject_unverified_recipient = $(ratio "$(med m4r.mh.rps)" "$(med m4r.verify.rps)");" \
		"/ no check = $(ratio "$(med m4r.mh.rps)" "$(med m4r.plain.rps)")"
fi
echo
if [ ${#findings[@]} -gt 0 ]; then
	echo "== FINDINGS"
	printf -- '- %s\n' "${findings[@]}"
else
	echo "== no findings: mhpolicyd ran throughout, every answer as expected, nothing logged"
fi
echo "# $(($(date +%s) - T0)) s in all"
T_DONE=1	# not a test: common.sh's cleanup stops everything by PID and removes $TMP
exit 0
