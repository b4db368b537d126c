#!/bin/bash
# bench/milter/run.sh - messages/s end to end through a private Postfix
# (smtp-source -> Postfix -> smtp-sink, loopback only: in a network
# namespace of its own when it can) with, one row each: no milter; a null C
# libmilter filter (bench/milter/nullmilter.c, the ceiling); mhmilter with
# the size checks only (and SPF when this mhmilter has it); mhmilter + spamd
# and spamass-milter + the same spamd; mhmilter + clamd and clamav-milter +
# the same clamd. Postfix has one smtpd per row (master.cf -o smtpd_milters),
# every milter listens on a unix socket. Every row runs REPEAT times, the
# rounds interleaved (rows 1..7, then again), and the medians are reported,
# with the CPU time per message of the milter, Postfix, Redis, dnsd and the
# scanner. Then mhmilter's peak RSS (VmHWM) after 10 KB messages and after a
# 50 MB one. Prints tables and ratios; asserts nothing.
#
# Usage: bench/milter/run.sh          (from the top of the tree, after make)
# Environment:
#   NMSG=1500 SPAM_NMSG=150    messages per measured run (spamd rows: fewer)
#   SESSIONS=10 SPAM_SESSIONS=4   parallel SMTP sessions of smtp-source
#   WARM=50 SPAM_WARM=8        messages sent (not timed) before each run
#   REPEAT=3                   runs per row (the median is reported)
#   SIZE=4096                  bytes per message (headers and body)
#   ROWS="none null mh-size mh-spamd spamass mh-clamd clamav"
#   RSS=1                      the 10 KB / 50 MB memory test (BIG=52428800 bytes)
#   SPF=auto                   auto: spf tag on the mh-size row when this
#                              mhmilter speaks SPF (it has Received-SPF in it), else off;
#                              tag / off to force
#   ISOLATE=auto               run in a network namespace of its own
#                              (tests/lib/isolate.sh: only loopback; root needed); 0: no
#   BENCH_TMPDIR=/dev/shm      where the queue, logs and messages live
#                              (tmpfs: a shared disk's fsyncs are not what is measured)
#   RUN_TIMEOUT=300            seconds one run may take (smtp-source and delivery)
#   INSTALL=0                  1: apt-get install the missing peers (spamass-milter clamav-milter)
#   MILTER_SOCKET=unix         where Postfix reaches every milter: unix sockets, or inet
#                              (127.0.0.1 ports: Postfix's milter client then stalls ~40 ms
#                              a message on Nagle + delayed ACK, whatever the milter)
#   MHMILTER, MHLIST           the binaries (default build/...)
#   CC=cc
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
TESTS_LIB=$top/tests/lib
MHMILTER=${MHMILTER:-$top/build/milter/mhmilter}
MHLIST=${MHLIST:-$top/build/mhlist/mhlist}
NMSG=${NMSG:-1500}
SPAM_NMSG=${SPAM_NMSG:-150}
SESSIONS=${SESSIONS:-10}
SPAM_SESSIONS=${SPAM_SESSIONS:-4}
WARM=${WARM:-50}
SPAM_WARM=${SPAM_WARM:-8}
REPEAT=${REPEAT:-3}
SIZE=${SIZE:-4096}
BIG=${BIG:-52428800}
ROWS=${ROWS:-"none null mh-size mh-spamd spamass mh-clamd clamav"}
RSS=${RSS:-1}
SPF=${SPF:-auto}
ISOLATE=${ISOLATE:-auto}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
INSTALL=${INSTALL:-0}
MILTER_SOCKET=${MILTER_SOCKET:-unix}
CC=${CC:-cc}
export MILTER_SOCKET MHMILTER MHLIST NMSG SPAM_NMSG SESSIONS SPAM_SESSIONS WARM SPAM_WARM REPEAT SIZE BIG ROWS RSS SPF RUN_TIMEOUT CC

# --- before anything starts: binaries, tools, peers --------------------------------
for f in "$MHMILTER" "$MHLIST"; do
	[ -x "$f" ] || { echo "no $f (build first, or set MHMILTER and MHLIST)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "run as root: a Postfix master must start as root" >&2; exit 1; }
need=()
for c in postfix postconf smtp-source smtp-sink redis-server redis-cli python3 "$CC"; do
	command -v "$c" >/dev/null 2>&1 || need+=("$c")
done
[ -f /usr/include/libmilter/mfapi.h ] || need+=("libmilter/mfapi.h (apt-get install libmilter-dev)")
if [ ${#need[@]} -gt 0 ]; then
	echo "missing: ${need[*]}" >&2
	echo "Debian: apt-get install -y postfix redis-server python3 gcc libmilter-dev" >&2
	exit 1
fi
want_row() { case " $ROWS " in *" $1 "*) return 0 ;; esac; return 1; }
peers_missing() {
	local m=()
	want_row spamass && ! command -v spamass-milter >/dev/null && m+=(spamass-milter)
	want_row spamass && ! command -v spamc >/dev/null && m+=(spamc)
	want_row clamav && ! command -v clamav-milter >/dev/null && m+=(clamav-milter)
	echo "${m[*]}"
}
if [ "${MHKIT_ISOLATED:-0}" != 1 ]; then
	missing=$(peers_missing)
	if [ -n "$missing" ]; then
		if [ "$INSTALL" = 1 ]; then
			echo "== apt-get install -y $missing"
			# shellcheck disable=SC2086
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q $missing >/tmp/bench-milter-apt.log 2>&1 ||
				{ tail -5 /tmp/bench-milter-apt.log; echo "apt-get failed"; }
		else
			echo "== peers not installed: $missing"
			echo "   install them with:  apt-get install -y spamass-milter clamav-milter"
			echo "   (or run with INSTALL=1); their rows are skipped"
		fi
	fi
	for c in spamd clamd; do
		command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] ||
			echo "== $c not installed (apt-get install -y spamassassin spamd clamav-daemon): its rows are skipped"
	done
fi

# --- a network namespace of our own: only loopback exists ---------------------------
if [ "$ISOLATE" = auto ]; then
	ISOLATE=0
	command -v unshare >/dev/null && command -v ip >/dev/null && unshare --net --mount true 2>/dev/null && ISOLATE=1
fi
if [ "$ISOLATE" = 1 ]; then
	. "$TESTS_LIB/isolate.sh"
	isolate_self "$@"
fi

# --- the harness (tests/lib): $TMP, processes stopped by PID at exit, ports --------
if [ -z "${BENCH_TMPDIR:-}" ]; then
	BENCH_TMPDIR=/tmp
	[ -d /dev/shm ] && [ -w /dev/shm ] && BENCH_TMPDIR=/dev/shm
fi
export TMPDIR=$BENCH_TMPDIR
. "$TESTS_LIB/common.sh"
# shellcheck disable=SC2034	# common.sh's (and T_DONE below)
T_PORT_LOCKDIR=/tmp/mhkit-port-locks	# the tests' lock dir (they may run meanwhile)
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/postfix.sh"
have_spamd=0 have_clamd=0
{ command -v spamd >/dev/null || [ -x /usr/sbin/spamd ]; } && have_spamd=1
{ command -v clamd >/dev/null || [ -x /usr/sbin/clamd ]; } && have_clamd=1
[ "$have_spamd" = 1 ] && . "$TESTS_LIB/spamd.sh"
[ "$have_clamd" = 1 ] && . "$TESTS_LIB/clamd.sh"
# the end: not a test, so no plan; common.sh's cleanup still stops everything
bench_exit() { T_DONE=1; exit "${1:-0}"; }
# shellcheck disable=SC2034
bail() { echo "bench/milter: $*" >&2; T_DONE=1; exit 1; }
CLK_TCK=$(getconf CLK_TCK)
findings=()

# The SMTP client's address: inside the namespace one of TEST-NET-2 put on lo
# (nothing leaves the namespace), so that SPF has something to look up
# (libspf2 passes loopback clients without asking DNS) and the client is
# not in Postfix's mynetworks, as on an MX; outside it, 127.0.0.1.
CLIENT_ADDR=127.0.0.1
if [ "$ISOLATE" = 1 ]; then
	CLIENT_ADDR=198.51.100.25
	isolate_addr_add "$CLIENT_ADDR"
fi

echo "== bench/milter: $(nproc) cores, $(uname -r), Postfix $(postconf -dh mail_version), isolated=$ISOLATE, files in $TMP"
echo "   mhmilter: $MHMILTER ($("$MHMILTER" -V 2>&1 | head -1)), milter sockets: $MILTER_SOCKET"

# --- SPF: does this mhmilter speak it? -----------------------------------------------
if [ "$SPF" = auto ]; then
	SPF=off
	grep -aq 'Received-SPF' "$MHMILTER" && SPF=tag
fi
case $SPF in tag | off) ;; *) bail "SPF must be auto, tag or off" ;; esac

# --- the messages ------------------------------------------------------------------
SENDER=news@sender.example
HELO=client.sender.example
# make_msg FILE BYTES SUBJECT - a plain text message of about BYTES bytes as
# stored (CRLF line ends: smtp-source -F adds the CR); LF lines in FILE
make_msg() {
	local f=$1 want=$2 subj=$3 i=0 text
	text="Hello Bob, here are the notes from Tuesday's meeting about the new delivery
schedule. The warehouse in Leeds will take the morning orders from next week,
and the afternoon ones stay in Bristol until the move is finished. Please let
Carol know if the customers in your region need a different cut-off time, and
send me the list of open questions before Friday so that we can go through
them together. Thanks again for the quick answers last time.
"
	{
		printf 'From: Sender News <%s>\n' "$SENDER"
		printf 'To: Bob <bob@example.com>\n'
		printf 'Subject: %s\n' "$subj"
		printf 'Date: %s\n' "$(date -R)"
		printf 'Message-ID: <bench-%s-%s@sender.example>\n' "$$" "$want"
		printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
	} >"$f"
	while [ $(($(wc -c <"$f") + $(wc -l <"$f") + ${#text} + 8)) -le "$want" ]; do
		i=$((i + 1))
		printf '%s\n' "$text" >>"$f"
	done
	printf 'Regards,\nAnn\n' >>"$f"
}
# stored_size FILE - its size with CRLF line ends
stored_size() { echo $(($(wc -c <"$1") + $(wc -l <"$1"))); }
make_msg "$TMP/msg.txt" "$SIZE" "Notes from the meeting"
make_msg "$TMP/msg10k.txt" 10240 "Notes from the meeting, long version"
MSG_BYTES=$(stored_size "$TMP/msg.txt")
echo "   message: $MSG_BYTES bytes as stored (headers and body, CRLF), plain text"

# --- the null milter -----------------------------------------------------------------
if want_row null; then
	$CC -O2 -Wall -Wextra -o "$TMP/nullmilter" "$here/nullmilter.c" -lmilter -lpthread ||
		bail "cannot build nullmilter.c"
fi

# --- the sink, Redis, the scanners -----------------------------------------------------
SINK_ADDR=127.0.0.2
SINK_PORT=$(free_port) || bail "no free port"
smtp-sink -c -u nobody -h sink.bench.example "$SINK_ADDR:$SINK_PORT" 256 >"$TMP/sink.out" 2>"$TMP/sink.err" &
SINK_PID=$!
register_pid "$SINK_PID"
wait_until 10 pf_banner "$SINK_PORT" "$SINK_ADDR" || bail "smtp-sink did not start: $(cat "$TMP/sink.err")"
# sink_count - messages smtp-sink received so far (its -c counters, the last record)
sink_count() {
	local s
	s=$(tail -c 80 "$TMP/sink.out" 2>/dev/null)
	s=${s%$'\r'}
	s=${s##*mesg=}
	case $s in '' | *[!0-9]*) echo 0 ;; *) echo "$s" ;; esac
}

redis_start
spamd_ok=0 clamd_ok=0
if [ "$have_spamd" = 1 ] && { want_row mh-spamd || want_row spamass; }; then
	spamd_start
	spamd_ok=1
fi
if [ "$have_clamd" = 1 ] && { want_row mh-clamd || want_row clamav || [ "$RSS" = 1 ]; }; then
	clamd_start
	clamd_ok=1
	clamd_mail_with_signature "$TMP/virus.eml"
	tr -d '\r' <"$TMP/virus.eml" >"$TMP/virus.txt"
fi

if [ "$SPF" = tag ]; then
	. "$TESTS_LIB/dns.sh"
	cat >"$TMP/zone" <<EOF
sender.example ZONE
sender.example TXT "v=spf1 ip4:198.51.100.0/24 -all"
client.sender.example A $CLIENT_ADDR
client.sender.example TXT "v=spf1 ip4:198.51.100.0/24 -all"
EOF
	dns_start "$TMP/zone"
	echo "   dnsd (tests/lib/dnsd.py) for SPF on $DNS_ADDR:$DNS_PORT"
	[ "$CLIENT_ADDR" = 127.0.0.1 ] &&
		echo "   (not isolated: the client is 127.0.0.1, which libspf2 passes without DNS)"
fi

# --- where the milters listen -----------------------------------------------------------
# msock NAME - sets MS_LIB (the socket in libmilter's form: unix:PATH or
# inet:PORT@127.0.0.1), MS_PF (Postfix's and mhkit.conf's form: unix:PATH or
# inet:127.0.0.1:PORT) and MS_WAIT (the path or the port, for milter_up)
msock() {
	if [ "$MILTER_SOCKET" = unix ]; then
		MS_WAIT=$TMP/sock/$1.sock
		MS_LIB=unix:$MS_WAIT MS_PF=unix:$MS_WAIT
	else
		MS_WAIT=$(free_port) || bail "no free port"
		MS_LIB=inet:$MS_WAIT@127.0.0.1 MS_PF=inet:127.0.0.1:$MS_WAIT
	fi
}
# milter_listening WHERE PID - the socket exists / the port listens, or PID has exited
milter_listening() {
	if [ "$MILTER_SOCKET" = unix ]; then
		[ -S "$1" ] || ! pid_alive "$2"
	else
		ss -Htln 2>/dev/null | awk '{print $4}' | grep -qE "^127\.0\.0\.1:$1\$" || ! pid_alive "$2"
	fi
}
# milter_up NAME WHERE PID - wait until it listens (10 s), or give up showing its log
milter_up() {
	wait_until 10 milter_listening "$2" "$3" && pid_alive "$3" ||
		bail "$1 did not start: $(cat "$TMP/$1.log" "$TMP/$1.file.log" 2>/dev/null | tail -5)"
}
mkdir -p "$TMP/sock"
# The milters create their sockets with the umask: 0 lets Postfix's smtpd
# (user postfix) connect to every one of them alike (022 again before Postfix)
umask 000

# --- mhmilter: its configuration and the domains -------------------------------------
msock mhmilter
MH_PF=$MS_PF MH_WAIT=$MS_WAIT
CONF=$TMP/mhkit.conf
mh_conf() {	# mh_conf FILE LISTEN (inet:127.0.0.1:PORT or unix:PATH)
	local dns=
	[ "$SPF" = tag ] && dns="dns = { servers = [\"127.0.0.1@$DNS_PORT\"]; };"
	mhkit_conf_write "$1" "milter = { listen = \"$2\";
  spamd = \"inet:127.0.0.1:${SPAMD_PORT:-1}\";
  clamd = \"unix:${CLAMD_SOCK:-$TMP/no-clamd.sock}\";
  on_scanner_error = \"tempfail\"; };
$dns"
}
mh_conf "$CONF" "$MH_PF"
mhl() { "$MHLIST" -c "$CONF" "$@" >/dev/null || bail "mhlist $* failed"; }
DEST=(--dest sink.bench.example --port 25)
mhl domain add size.example --service relay "${DEST[@]}" --spam off --virus off --spf "$SPF"
mhl domain add spam.example --service relay "${DEST[@]}" --virus off --spf off --discard_limit 1000
mhl domain add virus.example --service relay "${DEST[@]}" --spam off --spf off
# the memory test: virus scan only, then spam and virus
mhl domain add big.example --service relay "${DEST[@]}" --spam off --spf off --max_size 100M
mhl domain add bigspam.example --service relay "${DEST[@]}" --spf off --max_size 100M --discard_limit 1000

# start_mhmilter NAME CONF WHERE - start one; sets MILTER_PID
start_mhmilter() {
	start_bg "$1" "$MHMILTER" -c "$2" -f
	MILTER_PID=$BG_PID
	wait_until 10 grep -q "ready" "$TMP/$1.log" || bail "$1 did not start: $(cat "$TMP/$1.log")"
	milter_up "$1" "$3" "$MILTER_PID"
}
start_mhmilter mhmilter "$CONF" "$MH_WAIT"
MH_PID=$MILTER_PID

# --- the peers -------------------------------------------------------------------------
NULL_PF='' NULL_PID=''
if want_row null; then
	msock nullmilter
	NULL_PF=$MS_PF
	start_bg nullmilter "$TMP/nullmilter" "$MS_LIB"
	NULL_PID=$BG_PID
	milter_up nullmilter "$MS_WAIT" "$NULL_PID"
fi
SA_PF='' SA_PID=''
if want_row spamass; then
	if ! command -v spamass-milter >/dev/null || ! command -v spamc >/dev/null; then
		echo "   spamass-milter: not installed (apt-get install -y spamass-milter), row skipped"
	elif [ "$spamd_ok" != 1 ]; then
		echo "   spamass-milter: no spamd, row skipped"
	else
		msock spamass-milter
		SA_PF=$MS_PF
		# Debian's default OPTIONS are "-u spamass-milter -i 127.0.0.1": no -i
		# (our client may be 127.0.0.1), no -u (spamd runs without per-user
		# config, -x); spamc talks TCP to the same spamd as mhmilter
		start_bg spamass-milter spamass-milter -p "$MS_LIB" -P "$TMP/spamass-milter.pid" \
			-- -d 127.0.0.1 -p "$SPAMD_PORT"
		SA_PID=$BG_PID
		milter_up spamass-milter "$MS_WAIT" "$SA_PID"
	fi
fi
CM_PF='' CM_PID=''
if want_row clamav; then
	if ! command -v clamav-milter >/dev/null; then
		echo "   clamav-milter: not installed (apt-get install -y clamav-milter), row skipped"
	elif [ "$clamd_ok" != 1 ]; then
		echo "   clamav-milter: no clamd, row skipped"
	else
		msock clamav-milter
		CM_PF=$MS_PF
		# like mhmilter: reject what is found, defer when clamd fails, no
		# header added (mhmilter adds none for the virus scan)
		cat >"$TMP/clamav-milter.conf" <<EOF
MilterSocket $MS_LIB
MilterSocketMode 666
Foreground yes
PidFile $TMP/clamav-milter.pid
ClamdSocket unix:$CLAMD_SOCK
OnClean Accept
OnInfected Reject
OnFail Defer
AddHeader No
LogFile $TMP/clamav-milter.file.log
LogInfected Basic
LogClean Off
MaxFileSize 25M
TemporaryDirectory $TMP
ReadTimeout 120
EOF
		start_bg clamav-milter clamav-milter -c "$TMP/clamav-milter.conf"
		CM_PID=$BG_PID
		milter_up clamav-milter "$MS_WAIT" "$CM_PID"
	fi
fi

umask 022

# --- Postfix: one smtpd per row, each with its own smtpd_milters ------------------------
# row_* : the listener port, the milter's PID (for its CPU time), the recipient
declare -A ROW_PORT=() ROW_PID=() ROW_RCPT=() ROW_LABEL=()
masters=()
add_row() {	# add_row NAME MILTER (smtpd_milters, "" for none) PID RCPT LABEL
	local p
	p=$(free_port) || bail "no free port"
	ROW_PORT[$1]=$p ROW_PID[$1]=$3 ROW_RCPT[$1]=$4 ROW_LABEL[$1]=$5
	if [ -n "$2" ]; then
		masters+=(--master "$CLIENT_ADDR:$p inet n - n - - smtpd -o smtpd_milters=$2")
	else
		masters+=(--master "$CLIENT_ADDR:$p inet n - n - - smtpd")
	fi
}
RSS_PORT=
want_row none && add_row none "" "" bob@size.example "no milter"
want_row null && add_row null "$NULL_PF" "$NULL_PID" bob@size.example "null C milter"
want_row mh-size && add_row mh-size "$MH_PF" "$MH_PID" bob@size.example "mhmilter, size only (spf $SPF)"
if [ "$spamd_ok" = 1 ]; then
	want_row mh-spamd && add_row mh-spamd "$MH_PF" "$MH_PID" bob@spam.example "mhmilter + spamd"
	[ -n "$SA_PID" ] && add_row spamass "$SA_PF" "$SA_PID" bob@spam.example "spamass-milter + spamd"
fi
if [ "$clamd_ok" = 1 ]; then
	want_row mh-clamd && add_row mh-clamd "$MH_PF" "$MH_PID" bob@virus.example "mhmilter + clamd"
	[ -n "$CM_PID" ] && add_row clamav "$CM_PF" "$CM_PID" bob@virus.example "clamav-milter + clamd"
	if [ "$RSS" = 1 ]; then
		msock mhmilter-rss
		MHR_PF=$MS_PF MHR_WAIT=$MS_WAIT
		add_row rss "$MHR_PF" "" bob@big.example "mhmilter (memory test)"
		RSS_PORT=${ROW_PORT[rss]}
	fi
fi
T=smtp:[$SINK_ADDR]:$SINK_PORT
postfix_start mx "${masters[@]}" \
	'relay_domains = size.example spam.example virus.example big.example bigspam.example' \
	"transport_maps = inline:{ size.example=$T, spam.example=$T, virus.example=$T, big.example=$T, bigspam.example=$T }" \
	'smtpd_milters =' 'milter_default_action = tempfail' 'milter_protocol = 6' \
	'message_size_limit = 104857600' 'smtpd_peername_lookup = no' \
	"smtp_helo_name = mx.bench.example"
for r in "${!ROW_PORT[@]}"; do
	wait_until 10 pf_banner "${ROW_PORT[$r]}" "$CLIENT_ADDR" || bail "smtpd of row $r does not answer on ${ROW_PORT[$r]}"
done

# --- one load run ------------------------------------------------------------------------
# the processes whose CPU time is reported per message: the row's milter,
# Postfix (the master and its daemons), Redis, dnsd (SPF), the scanner
cpu_pids() {	# cpu_pids ROW - "MILTER POSTFIX REDIS DNS SCANNER" ("-" for none)
	local scan=-
	case $1 in mh-spamd | spamass) scan=${SPAMD_PID:--} ;; mh-clamd | clamav | rss) scan=${CLAMD_PID:--} ;; esac
	echo "${ROW_PID[$1]:--} $(postfix_pid mx) ${REDIS_PID:--} ${DNS_PID:--} $scan"
}
# cpu_snapshot ROW - for each of cpu_pids, in that order, the CPU time in
# ticks of it and everything below it: utime + stime + the reaped
# children's (spamc for spamass-milter, Postfix's daemons that exited) of
# the process and of each live descendant (spamd's children, Postfix's
# smtpd, cleanup, ...). One read of /proc. A process that exits while
# /proc is read can be missed: a small error, Postfix's column mostly.
cpu_snapshot() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v roots="$(cpu_pids "$1")" '
		{
			rp = length($0)
			while (rp > 0 && substr($0, rp, 1) != ")") rp--
			pid = $1
			k = split(substr($0, rp + 2), f, " ")
			if (k < 15) next
			parent[pid] = f[2]
			ticks[pid] = f[12] + f[13] + f[14] + f[15]
		}
		END {
			n = split(roots, r, " ")
			for (i = 1; i <= n; i++) sum[r[i]] = 0
			for (p in ticks)
				for (q = p; q != "" && q > 1; q = parent[q])
					if (q in sum) { sum[q] += ticks[p]; break }
			for (i = 1; i <= n; i++) printf "%s%d", (i > 1 ? " " : ""), (r[i] == "-" ? 0 : sum[r[i]])
			print ""
		}'
}
dns_count() { [ "$SPF" = tag ] && awk '$2 == "query" { n++ } END { print n + 0 }' "$DNS_LOG" 2>/dev/null || echo 0; }
# redis_counts - "CONNECTIONS COMMANDS" Redis has received so far
redis_counts() {
	redis_cli redis INFO stats 2>/dev/null | tr -d '\r' | awk -F: '
		$1 == "total_connections_received" { c = $2 } $1 == "total_commands_processed" { k = $2 }
		END { print c + 0, k + 0 }'
}
spamd_results() { awk '/result:/ { n++ } END { print n + 0 }' "$TMP/spamd.log" 2>/dev/null || echo 0; }
# load ROW N SESSIONS FILE [cpu] - send N messages, wait until the sink has them all.
# Sets L_RC (smtp-source), L_ACC_MS (until smtp-source ended), L_E2E_MS (until
# the sink had them all), L_GOT (delivered), L_CPU_MS ("MILTER POSTFIX REDIS
# DNS SCANNER": ms of CPU time of each during the run, see cpu_pids), L_REDIS
# ("CONNECTIONS COMMANDS" Redis received during the run, less the INFO itself),
# L_ERR (smtp-source's last line when it failed)
load() {
	local row=$1 n=$2 s=$3 file=$4 cpu=${5:-} before t0 t1 now c0=(0 0 0 0 0) c1=(0 0 0 0 0) i r0=(0 0) r1=(0 1)
	postfix_wait_queue_empty mx 120 || findings+=("$row: the queue was not empty before the run")
	before=$(sink_count)
	if [ -n "$cpu" ]; then
		read -r -a c0 < <(cpu_snapshot "$row")
		read -r -a r0 < <(redis_counts)
	fi
	t0=$(now_ms)
	timeout "$RUN_TIMEOUT" smtp-source -s "$s" -m "$n" -F "$file" -f "$SENDER" -t "${ROW_RCPT[$row]}" \
		-M "$HELO" "$CLIENT_ADDR:${ROW_PORT[$row]}" >"$TMP/source.out" 2>&1
	L_RC=$?
	t1=$(now_ms)
	L_ERR=
	[ "$L_RC" = 0 ] || L_ERR=$(tail -n 1 "$TMP/source.out")
	while :; do
		L_GOT=$(($(sink_count) - before))
		now=$(now_ms)
		[ "$L_GOT" -ge "$n" ] && break
		[ "$L_RC" != 0 ] && [ $((now - t1)) -gt 10000 ] && break	# what was accepted has arrived by now
		[ $((now - t0)) -gt $((RUN_TIMEOUT * 1000)) ] && break
		sleep 0.05
	done
	if [ -n "$cpu" ]; then
		read -r -a c1 < <(cpu_snapshot "$row")
		read -r -a r1 < <(redis_counts)
	fi
	L_REDIS="$((r1[0] - r0[0] - 1)) $((r1[1] - r0[1] - 1))"
	L_ACC_MS=$((t1 - t0)) L_E2E_MS=$((now - t0))
	L_CPU_MS=
	for i in 0 1 2 3 4; do L_CPU_MS="$L_CPU_MS $(((c1[i] - c0[i]) * 1000 / CLK_TCK))"; done
	L_CPU_MS=${L_CPU_MS# }
}
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { if (ms > 0) printf "%.1f", n * 1000 / ms; else print "-" }'; }

# --- sanity: every row delivers; the virus rows refuse a virus -------------------------------
echo
echo "== sanity checks"
for r in none null mh-size mh-spamd spamass mh-clamd clamav; do
	[ -n "${ROW_PORT[$r]:-}" ] || continue
	q0=$(dns_count)
	load "$r" 1 1 "$TMP/msg.txt"
	if [ "$L_RC" != 0 ] || [ "$L_GOT" -lt 1 ]; then
		bail "$r (${ROW_LABEL[$r]}): one message not delivered: rc $L_RC, delivered $L_GOT: $L_ERR"
	fi
	q=$(($(dns_count) - q0))
	echo "   $r: a message delivered$([ "$q" -gt 0 ] && echo "; $q DNS queries (SPF): $(tail -n "$q" "$DNS_LOG" | awk '{print $7, $8, $9}' | tr '\n' ' ')")"
done
for r in mh-clamd clamav; do
	[ -n "${ROW_PORT[$r]:-}" ] || continue
	timeout 60 smtp-source -m 1 -F "$TMP/virus.txt" -f "$SENDER" -t "${ROW_RCPT[$r]}" -M "$HELO" \
		"$CLIENT_ADDR:${ROW_PORT[$r]}" >"$TMP/virus.out" 2>&1
	if grep -qE ' 5[0-9][0-9] ' "$TMP/virus.out"; then
		echo "   $r: a virus refused: $(grep -oE '5[0-9][0-9] .*' "$TMP/virus.out" | head -1 | cut -c1-90)"
	else
		findings+=("$r: the test virus was not refused: $(tail -n 1 "$TMP/virus.out")")
		echo "   $r: the test virus was NOT refused"
	fi
done
if [ "$spamd_ok" = 1 ]; then
	score=$(grep 'result:' "$TMP/spamd.log" | tail -1 | sed -n 's/.*result: \(.\) *\(-\{0,1\}[0-9.]*\) - \([^ ]*\).*/\2 (\3)/p')
	echo "   spamd's score of the bench message: $score"
fi

# --- the rounds ------------------------------------------------------------------------------
results=$TMP/results		# one line per run (see below)
: >"$results"
order=()
for r in none null mh-size mh-spamd spamass mh-clamd clamav; do
	want_row "$r" && [ -n "${ROW_PORT[$r]:-}" ] && order+=("$r")
done
echo
echo "== $REPEAT rounds of: ${order[*]}"
echo "   $NMSG messages ($SPAM_NMSG for spamd rows) of $MSG_BYTES bytes, $SESSIONS parallel sessions ($SPAM_SESSIONS for spamd rows),"
echo "   one message per SMTP connection; $WARM ($SPAM_WARM) untimed before each run"
echo "   CPU: ms of CPU time per message of the milter, Postfix (all its processes), Redis, dnsd, the scanner"
printf '%-6s %-9s %6s %8s %8s %8s %8s   %-34s\n' round row msgs 'acc s' 'acc/s' 'e2e s' 'e2e/s' 'CPU: milter postfix redis dns scan'
for round in $(seq "$REPEAT"); do
	for r in "${order[@]}"; do
		n=$NMSG s=$SESSIONS w=$WARM
		case $r in mh-spamd | spamass) n=$SPAM_NMSG s=$SPAM_SESSIONS w=$SPAM_WARM ;; esac
		[ "$w" -gt 0 ] && load "$r" "$w" "$s" "$TMP/msg.txt"
		sa0=$(spamd_results) q0=$(dns_count)
		load "$r" "$n" "$s" "$TMP/msg.txt" cpu
		ok=1
		if [ "$L_RC" != 0 ] || [ "$L_GOT" != "$n" ]; then
			ok=0
			findings+=("$r round $round: smtp-source status $L_RC, delivered $L_GOT of $n: $L_ERR")
		fi
		case $r in mh-spamd | spamass)
			sa=$(($(spamd_results) - sa0))
			[ "$sa" -ge "$n" ] || { ok=0; findings+=("$r round $round: spamd scanned $sa of $n messages"); }
			;;
		esac
		q=$(($(dns_count) - q0))
		if [ "$r" = mh-size ] && [ "$SPF" = tag ] && [ "$CLIENT_ADDR" != 127.0.0.1 ] && [ "$q" -lt "$n" ]; then
			ok=0
			findings+=("mh-size round $round: $q DNS queries for $n messages: SPF did not look up")
		fi
		cpu=$(awk -v n="$n" -v c="$L_CPU_MS" 'BEGIN { k = split(c, v, " "); for (i = 1; i <= k; i++) printf "%7.2f", v[i] / n }')
		printf '%-6s %-9s %6s %8.2f %8s %8.2f %8s   %-34s%s\n' "$round" "$r" "$n" \
			"$(awk -v v="$L_ACC_MS" 'BEGIN{print v/1000}')" "$(rate "$n" "$L_ACC_MS")" \
			"$(awk -v v="$L_E2E_MS" 'BEGIN{print v/1000}')" "$(rate "$L_GOT" "$L_E2E_MS")" "$cpu" \
			"$([ "$q" -gt 0 ] && echo "  $q DNS queries")$([ "$ok" = 1 ] || echo ' FAILED')"
		# ROW ROUND N ACC_MS E2E_MS GOT OK CPU_MILTER CPU_POSTFIX CPU_REDIS CPU_DNS CPU_SCANNER
		# REDIS_CONNECTIONS REDIS_COMMANDS
		echo "$r $round $n $L_ACC_MS $L_E2E_MS $L_GOT $ok $L_CPU_MS $L_REDIS" >>"$results"
	done
done

# --- medians and ratios ------------------------------------------------------------------------
median() {	# median FIELD ROW - median over the row's good runs of (N*1000/FIELD) or of FIELD/N
	awk -v f="$1" -v r="$2" -v what="${3:-rate}" '
		$1 == r && $7 == 1 { v[++k] = (what == "rate") ? $3 * 1000 / $f : $f / $3 }
		END {
			if (k == 0) { print ""; exit }
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
			m = (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
			printf "%.2f", m
		}' "$results"
}
declare -A MED_E2E=() MED_ACC=() MED_CPU=()
echo
echo "== medians ($REPEAT runs each; CPU in ms per message)"
echo "   (and per message, the connections and commands Redis received)"
printf '%-9s %-32s %9s %9s   %7s %7s %7s %7s %7s   %-10s\n' row what 'e2e/s' 'acc/s' milter postfix redis dns scan 'redis c/k'
for r in "${order[@]}"; do
	MED_E2E[$r]=$(median 5 "$r")
	MED_ACC[$r]=$(median 4 "$r")
	MED_CPU[$r]=$(median 8 "$r" cpu)
	printf '%-9s %-32s %9s %9s   %7s %7s %7s %7s %7s   %s/%s\n' "$r" "${ROW_LABEL[$r]}" "${MED_E2E[$r]:--}" "${MED_ACC[$r]:--}" \
		"${MED_CPU[$r]:--}" "$(median 9 "$r" cpu)" "$(median 10 "$r" cpu)" "$(median 11 "$r" cpu)" "$(median 12 "$r" cpu)" \
		"$(median 13 "$r" cpu)" "$(median 14 "$r" cpu)"
done
ratio() {	# ratio A B TARGET - A/B of the e2e medians
	local a=${MED_E2E[$1]:-} b=${MED_E2E[$2]:-}
	if [ -z "$a" ] || [ -z "$b" ]; then
		printf '   %-9s / %-9s  n/a (a row is missing)\n' "$1" "$2"
		return
	fi
	awk -v a="$a" -v b="$b" -v x="$1" -v y="$2" -v t="$3" -v ca="${MED_CPU[$1]:-}" -v cb="${MED_CPU[$2]:-}" 'BEGIN {
		r = a / b
		line = sprintf("   %-9s / %-9s = %.2f  (target >= %s: %s)", x, y, r, t, (r >= t) ? "met" : "NOT met")
		if (ca != "" && ca != "-" && cb != "" && cb != "-" && cb > 0) line = line sprintf("; milter CPU per message %.2f / %.2f ms", ca, cb)
		print line
	}'
}
echo
echo "== ratios (end-to-end msgs/s, medians)"
ratio mh-size null 0.9
ratio mh-spamd spamass 1.0
ratio mh-clamd clamav 1.0
[ -n "${MED_E2E[none]:-}" ] && [ -n "${MED_E2E[null]:-}" ] &&
	echo "   (null milter / no milter = $(awk -v a="${MED_E2E[null]}" -v b="${MED_E2E[none]}" 'BEGIN{printf "%.2f", a/b}'): the cost of the milter protocol itself)"

# --- memory: a fresh mhmilter, 10 KB then 50 MB ------------------------------------------------
if [ -n "$RSS_PORT" ]; then
	echo
	echo "== mhmilter memory (a fresh mhmilter; domains with max_size 100M, Postfix message_size_limit 100 MB)"
	mh_conf "$TMP/mhkit-rss.conf" "$MHR_PF"
	umask 000
	start_mhmilter mhmilter-rss "$TMP/mhkit-rss.conf" "$MHR_WAIT"
	umask 022
	RSS_PID=$MILTER_PID
	vm() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
	# a 50 MB MIME message: a base64 attachment of random bytes (76-column lines)
	{
		printf 'From: <%s>\nTo: <bob@big.example>\nSubject: the archive\nDate: %s\n' "$SENDER" "$(date -R)"
		printf 'Message-ID: <big-%s@sender.example>\nMIME-Version: 1.0\n' "$$"
		printf 'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\nsee attachment\n'
		printf -- '--b1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n'
		printf 'Content-Disposition: attachment; filename="archive.bin"\n\n'
		head -c $(((BIG - 600) / 78 * 57)) /dev/urandom | base64 -w 76
		printf -- '--b1--\n'
	} >"$TMP/big.txt"
	big_bytes=$(stored_size "$TMP/big.txt") small_bytes=$(stored_size "$TMP/msg10k.txt")
	printf '   %-58s VmRSS %6s kB\n' "started" "$(vm "$RSS_PID" VmRSS)"
	# mem_step LABEL RCPT COUNT FILE - send COUNT x FILE to RCPT, then print VmHWM and VmRSS
	mem_step() {
		local hwm rss
		ROW_RCPT[rss]=$2
		load rss "$3" 1 "$4"
		[ "$L_RC" = 0 ] && [ "$L_GOT" = "$3" ] ||
			findings+=("memory test, $1: smtp-source status $L_RC, delivered $L_GOT of $3: $L_ERR")
		hwm=$(vm "$RSS_PID" VmHWM) rss=$(vm "$RSS_PID" VmRSS)
		printf '   %-58s VmHWM %6s kB  VmRSS %6s kB  (%.1f s)\n' "$1" "$hwm" "$rss" \
			"$(awk -v v="$L_E2E_MS" 'BEGIN{print v/1000}')"
		MEM_HWM=$hwm
	}
	mem_step "virus scan: after 3 messages of $small_bytes bytes" bob@big.example 3 "$TMP/msg10k.txt"
	h10=$MEM_HWM
	mem_step "virus scan: after 1 message of $big_bytes bytes" bob@big.example 1 "$TMP/big.txt"
	h50=$MEM_HWM
	echo "   => peak growth from the 50 MB message, virus scan on: $((h50 - h10)) kB"
	if [ "$spamd_ok" = 1 ]; then
		mem_step "spam + virus: after 3 messages of $small_bytes bytes" bob@bigspam.example 3 "$TMP/msg10k.txt"
		h10=$MEM_HWM
		mem_step "spam + virus: after 1 message of $big_bytes bytes" bob@bigspam.example 1 "$TMP/big.txt"
		h50=$MEM_HWM
		echo "   => peak growth from the 50 MB message, spam and virus on: $((h50 - h10)) kB (spam_max_size is 512K)"
	fi
	grep -hE 'scanned|larger than' "$TMP/mhmilter-rss.log" | sort | uniq -c | sed 's/^ */   log: /'
fi

# --- what went wrong ---------------------------------------------------------------------------
# (the sanity check's test virus is the one reject expected)
w=$(grep -hE 'warning|error|fatal|panic|reject|defer' "$TMP/mhmilter.log" "$TMP/mhmilter-rss.log" 2>/dev/null |
	grep -v -e 'running as root' -e "virus $CLAMD_SIG_NAME found" -e 'not scanned' | head -5)
[ -n "$w" ] && findings+=("mhmilter logged: $w")
echo
if [ ${#findings[@]} -gt 0 ]; then
	echo "== FINDINGS"
	printf -- '- %s\n' "${findings[@]}"
else
	echo "== no errors: every message delivered, every spamd row fully scanned, nothing logged by mhmilter"
fi
echo "(the whole run took $SECONDS s)"
bench_exit 0
