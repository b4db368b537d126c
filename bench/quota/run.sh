#!/bin/bash
# bench/quota/run.sh - END-OF-MESSAGE quota decisions/s of mhpolicyd's
# outbound relay counting against mtpolicyd (Quota + Accounting on SQLite)
# and postfwd (rcpt() rate limit per sasl_username), plus a do-nothing C
# server as the ceiling, all on loopback, driven by bench/policy/loadgen.c
# in its eom mode (a unique queue_id per request) at 1, 8 and 64
# connections. After each mhpolicyd run, Redis's counters are compared with
# the relays of the requests answered DUNNO. Then the concurrency run: 64
# connections push several accounts 3x past a small limit, and the relays
# granted are compared with the limit and Redis's counter ("overshoot").
# Prints tables and ratios; asserts nothing.
#
# Usage: bench/quota/run.sh          (from the top of the tree, after make)
# Environment:
#   DURATION=5 WARMUP=1    seconds recorded / warm-up, per run
#   CONNS="1 8 64"         connection counts
#   SERVERS="mhpolicyd null mtpolicyd postfwd"
#   ACCOUNTS=16 BLOCKS=1000000    throughput runs: accounts per run and their
#                          blocks (x outbound.relays_per_block 150: nothing refused)
#   SIZES=2000,15000,120000,900000 COUNTS=1,2,3   sizes (bytes) and
#                          recipient counts of the throughput runs' messages
#                          (all under 10 MB: relays == recipients for every server)
#   OVER_ACCOUNTS=8 OVER_BLOCKS=10 OVER_CONNS=64 OVER_PUSH=3
#   OVER_SIZES=3000,80000,12582912,47185920 OVER_COUNTS=1,2,3
#                          the concurrency run (limit OVER_BLOCKS x 150 relays)
#   PEER_OVERSHOOT=1       the same concurrency run against the peers (their
#                          limit counts recipients: they have no size multiplier)
#   INSTALL=1              apt-get install missing peers (0: skip them)
#   MHPOLICYD, MHLIST      the binaries (default build/...)
#   OUT=FILE               also write every run as one JSON line to FILE
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$here/../..
MHPOLICYD=${MHPOLICYD:-$top/build/policyd/mhpolicyd}
MHLIST=${MHLIST:-$top/build/mhlist/mhlist}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-"1 8 64"}
SERVERS=${SERVERS:-"mhpolicyd null mtpolicyd postfwd"}
ACCOUNTS=${ACCOUNTS:-16}
BLOCKS=${BLOCKS:-1000000}
SIZES=${SIZES:-2000,15000,120000,900000}
COUNTS=${COUNTS:-1,2,3}
OVER_ACCOUNTS=${OVER_ACCOUNTS:-8}
OVER_BLOCKS=${OVER_BLOCKS:-10}
OVER_CONNS=${OVER_CONNS:-64}
OVER_PUSH=${OVER_PUSH:-3}
OVER_SIZES=${OVER_SIZES:-3000,80000,12582912,47185920}
OVER_COUNTS=${OVER_COUNTS:-1,2,3}
PEER_OVERSHOOT=${PEER_OVERSHOOT:-1}
INSTALL=${INSTALL:-1}
CC=${CC:-gcc}
PER_BLOCK=150			# outbound.relays_per_block (the default)
MAXREQ=100000000		# -n bound of every throughput run, on top of DURATION
OVER_SECONDS=300		# bound of a concurrency run

for f in "$MHPOLICYD" "$MHLIST"; do
	[ -x "$f" ] || { echo "no $f (build first: cd build && make)" >&2; exit 1; }
done
command -v redis-server >/dev/null || { echo "redis-server not installed" >&2; exit 1; }

tmp=$(mktemp -d /tmp/mhkit-bench-quota.XXXXXX)
chmod 755 "$tmp"			# the peers run as nobody
# mtpolicyd's SQLite file on tmpfs when there is one: Redis runs without
# persistence, so SQLite should not wait for a disk either
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	shm=$(mktemp -d /dev/shm/mhkit-bench-quota.XXXXXX)
else
	shm=$(mktemp -d "$tmp/sql.XXXXXX")
fi
chmod 755 "$shm"
started=()				# top-level pids we started (daemons' masters included)

descendants() {	# descendants PID - PID and every process below it
	local p=$1 c
	echo "$p"
	for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do descendants "$c"; done
}
stop_pids() {	# stop_pids PID... - TERM each tree, wait up to 10 s, then KILL
	local all=() p i
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null || continue
		mapfile -t -O "${#all[@]}" all < <(descendants "$p")
	done
	[ ${#all[@]} -gt 0 ] || return 0
	kill "${all[@]}" 2>/dev/null || true
	for i in $(seq 100); do
		for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && break; p=; done
		[ -z "$p" ] && break
		sleep 0.1
	done
	for p in "${all[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "$@"; do wait "$p" 2>/dev/null || true; done
}
cleanup() {
	set +e
	[ ${#started[@]} -gt 0 ] && stop_pids "${started[@]}"
	rm -rf "$tmp" "$shm"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

used_ports=" "
# below the ephemeral range (net.ipv4.ip_local_port_range, 32768.. on Debian):
# a port chosen there can be taken meanwhile by one of the client
# connections this script opens, and the server then cannot bind
EPHEMERAL_LOW=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$EPHEMERAL_LOW" -gt 21024 ] 2>/dev/null || EPHEMERAL_LOW=32768
free_port() {	# free_port VAR - set VAR to a loopback TCP port nobody uses
	local p i
	for i in $(seq 200); do
		p=$((20000 + RANDOM % (EPHEMERAL_LOW - 20000)))
		case $used_ports in *" $p "*) continue ;; esac
		if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]; then
			used_ports="$used_ports$p "
			printf -v "$1" '%s' "$p"
			return 0
		fi
	done
	echo "no free port" >&2
	exit 1
}
wait_port() {	# wait_port PORT SECONDS - until something accepts on 127.0.0.1:PORT
	local i
	for i in $(seq $(($2 * 10))); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
jget() {	# jget KEY JSON - a number or string of loadgen's --json line (the last KEY)
	sed -n "s/.*\"$1\":\\(\"[^\"]*\"\\|[^,}]*\\).*/\\1/p" <<<"$2" | tr -d '"'
}
jaccounts() {	# jaccounts JSON - "USER MSGS RCPTS RELAYS REFUSED LOST" per account
	grep -o '{"user":"[^"]*","msgs":[0-9]*,"rcpts":[0-9]*,"relays":[0-9]*,"refused":[0-9]*,"lost":[0-9]*}' <<<"$1" |
		sed 's/{"user":"\([^"]*\)","msgs":\([0-9]*\),"rcpts":\([0-9]*\),"relays":\([0-9]*\),"refused":\([0-9]*\),"lost":\([0-9]*\)}/\1 \2 \3 \4 \5 \6/'
}
ms() { awk -v v="$1" 'BEGIN { printf "%.3f", v / 1000 }'; }
users_list() {	# users_list PREFIX N - PREFIX1,PREFIX2,...
	local i out=
	for i in $(seq "$2"); do out="$out,$1$i"; done
	echo "${out#,}"
}

echo "== building loadgen and null_policyd (bench/policy)"
$CC -std=c11 -O2 -Wall -Wextra -Werror -o "$tmp/loadgen" "$top/bench/policy/loadgen.c"
$CC -std=c11 -O2 -Wall -Wextra -Werror -o "$tmp/null_policyd" "$top/bench/policy/null_policyd.c"
LOADGEN=$tmp/loadgen

# --- the peers, from Debian; DBD::SQLite for mtpolicyd's Quota and Accounting -------
want_peer() { case " $SERVERS " in *" $1 "*) return 0 ;; esac; return 1; }
missing=()
want_peer postfwd && ! command -v postfwd2 >/dev/null && missing+=(postfwd)
want_peer mtpolicyd && ! command -v mtpolicyd >/dev/null && missing+=(mtpolicyd)
want_peer mtpolicyd && ! perl -MDBD::SQLite -e 1 2>/dev/null && missing+=(libdbd-sqlite3-perl)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ]; then
		echo "== apt-get install -y ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}" \
			>"$tmp/apt.log" 2>&1 \
			|| { tail -5 "$tmp/apt.log"; echo "apt-get failed: peers that are missing will be skipped"; }
	else
		echo "== not installing ${missing[*]} (INSTALL=$INSTALL, uid $(id -u)): those peers are skipped"
	fi
fi
if [ "$(id -u)" = 0 ]; then
	peer_user=nobody peer_group=nogroup
else
	peer_user=$(id -un) peer_group=$(id -gn)
fi

# --- Redis, private, no persistence ------------------------------------------------
free_port redis_port
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
	--daemonize no --logfile "$tmp/redis.log" &
started+=($!)
cli() { timeout 60 redis-cli -p "$redis_port" "$@"; }
for _ in $(seq 50); do cli PING >/dev/null 2>&1 && break; sleep 0.1; done
redis_day() { cli TIME | head -1 | awk '{ print int($1 / 86400) }'; }

# --- the accounts ----------------------------------------------------------------------
# throughput runs: their own ACCOUNTS accounts per connection count (t8u1 ...),
# so each run's counters start at 0; the concurrency run: o1 ... oN
over_limit=$((OVER_BLOCKS * PER_BLOCK))
tp_users=()
for c in $CONNS; do tp_users+=($(users_list "t${c}u" "$ACCOUNTS" | tr , ' ')); done
over_users=($(users_list o "$OVER_ACCOUNTS" | tr , ' '))

free_port mh_port
free_port mh_sm_port
cat >"$tmp/mhkit.conf" <<EOF
user = "root";
redis = { host = "127.0.0.1"; port = $redis_port; };
policyd = { listen = "inet:127.0.0.1:$mh_port"; socketmap = "inet:127.0.0.1:$mh_sm_port"; };
outbound = { relays_per_block = $PER_BLOCK; };
EOF
mhl() { "$MHLIST" -c "$tmp/mhkit.conf" "$@" >/dev/null; }
if want_peer mhpolicyd; then
	for u in "${tp_users[@]}"; do mhl account add "$u" --blocks "$BLOCKS"; done
	for u in "${over_users[@]}"; do mhl account add "$u" --blocks "$OVER_BLOCKS"; done
fi
# the sum of the accounts' counters on the UTC days D0..D1 (Redis's clock)
redis_used() {	# redis_used D0 D1 USER...
	local d0=$1 d1=$2 d u sum=0 v
	shift 2
	for u in "$@"; do
		for d in $(seq "$d0" "$d1"); do
			v=$(cli GET "mh:{acct:$u}:used:$d")
			sum=$((sum + ${v:-0}))
		done
	done
	echo "$sum"
}

# --- mtpolicyd: Quota + Accounting per sasl_username, per day, on SQLite -----------
# the table as Accounting would create it, plus the unique (key, time) index
# of its MySQL schema (so its UPDATE finds the row by index and two children
# cannot insert the same row twice), WAL journal, and today's row of every
# account already there (as mhpolicyd's accounts exist before the run)
mt_db() {	# mt_db FILE USER...
	local f=$1
	shift
	perl -MDBI -e '
		my $f = shift;
		my $d = DBI->connect("dbi:SQLite:dbname=$f", "", "", { RaiseError => 1, AutoCommit => 1 });
		$d->do("PRAGMA journal_mode=WAL");
		$d->do("CREATE TABLE acct_sasl_username (id INTEGER PRIMARY KEY AUTOINCREMENT,
			key VARCHAR(255) NOT NULL, time VARCHAR(255) NOT NULL,
			count INT UNSIGNED NOT NULL, count_rcpt INT UNSIGNED NOT NULL,
			size INT UNSIGNED NOT NULL, size_rcpt INT UNSIGNED NOT NULL)");
		$d->do("CREATE UNIQUE INDEX acct_sasl_username_key_time ON acct_sasl_username (key, time)");
		my @t = localtime; my $day = sprintf("%04d-%02d-%02d", $t[5] + 1900, $t[4] + 1, $t[3]);
		my $s = $d->prepare("INSERT INTO acct_sasl_username (key, time, count, count_rcpt, size, size_rcpt)
			VALUES (?, ?, 0, 0, 0, 0)");
		$d->begin_work; $s->execute($_, $day) for @ARGV; $d->commit;
	' "$f" "$@"
}
mt_used() {	# mt_used FILE USER... - SUM(count_rcpt) of those accounts (every day)
	perl -MDBI -e '
		my $f = shift;
		my $d = DBI->connect("dbi:SQLite:dbname=$f", "", "", { RaiseError => 1, ReadOnly => 1 });
		my $in = join(",", ("?") x @ARGV);
		print $d->selectrow_array("SELECT COALESCE(SUM(count_rcpt), 0) FROM acct_sasl_username WHERE key IN ($in)",
			undef, @ARGV) // 0, "\n";
	' "$@"
}
mt_conf() {	# mt_conf PORT DBFILE THRESHOLD
	cat <<EOF
user=$peer_user
group=$peer_group
pid_file="$tmp/mtpolicyd/mtpolicyd.pid"
log_level=0
host=127.0.0.1
port="127.0.0.1:$1"
min_servers=72
min_spare_servers=8
max_spare_servers=90
max_servers=100
max_requests=1000000
keepalive_timeout=60
max_keepalive=0
request_timeout=20

<Connection db>
  module = "Sql"
  dsn = "dbi:SQLite:dbname=$2"
</Connection>

<VirtualHost $1>
	name="quota"
	<Plugin eom-only>
		module = "Condition"
		key = "protocol_state"
		match = "END-OF-MESSAGE"
		invert = 1
		action = "dunno"
	</Plugin>
	<Plugin quota>
		module = "Quota"
		field = "sasl_username"
		metric = "count_rcpt"
		time_pattern = "%Y-%m-%d"
		threshold = $3
		action = "defer Daily relay limit reached"
	</Plugin>
	<Plugin accounting>
		module = "Accounting"
		fields = "sasl_username"
		time_pattern = "%Y-%m-%d"
	</Plugin>
</VirtualHost>
EOF
}

# --- postfwd: rcpt() per sasl_username, a day ---------------------------------------
pf_conf() {	# pf_conf LIMIT
	cat <<EOF
id=EOM01; protocol_state==END-OF-MESSAGE; sasl_username=~.; action=rcpt(sasl_username/$1/86400/452 4.7.1 Daily relay limit reached for \$\$sasl_username)
id=DEFAULT; action=DUNNO
EOF
}
pf_cache_port=
pf_used() {	# pf_used USER... - the sum of postfwd's rcpt() counters of those accounts (its cache daemon's dump)
	local line re
	exec 9<>"/dev/tcp/127.0.0.1/$pf_cache_port" || { echo "?"; return; }
	printf 'CMD=DC;\n' >&9
	IFS= read -r -t 10 line <&9 || true
	exec 9<&- 9>&-
	re=$(IFS='|'; echo "$*")
	grep -oE "sasl_username=($re) +-> %EOM01[^ ]* +-> @count +-> '[0-9]+'" <<<"$line" |
		sed "s/.*'\\([0-9]*\\)'/\\1/" | awk '{ s += $1 } END { print s + 0 }'
}

# start_server NAME LIMIT - start one server; sets srv_pid, srv_port (empty pid: skipped)
srv_seq=0
start_server() {
	local limit=$2
	srv_pid=
	srv_seq=$((srv_seq + 1))
	free_port srv_port
	case $1 in
	mhpolicyd)
		srv_port=$mh_port
		"$MHPOLICYD" -c "$tmp/mhkit.conf" -f 2>>"$tmp/mhpolicyd.log" &
		srv_pid=$!
		;;
	null)
		"$tmp/null_policyd" "inet:127.0.0.1:$srv_port" &
		srv_pid=$!
		;;
	postfwd)
		command -v postfwd2 >/dev/null || { echo "postfwd: not installed, skipped"; return; }
		local d=$tmp/postfwd.$srv_seq
		mkdir "$d" && chown "$peer_user:$peer_group" "$d"
		pf_conf "$limit" >"$d/postfwd.cf"
		free_port pf_cache_port
		# it daemonizes: the master's pid comes from its pidfile. --perfmon: no
		# logging (there is no syslog here). --cache=0: no request cache (each
		# request is new anyway: queue_id and instance). The rate counters live
		# in its cache daemon, shared by the children.
		postfwd2 -f "$d/postfwd.cf" --server_socket "tcp:127.0.0.1:$srv_port" \
			--cache_socket "tcp:127.0.0.1:$pf_cache_port" --pidfile "$d/master.pid" \
			-u "$peer_user" -g "$peer_group" --perfmon --cache=0 \
			--min_servers 72 --max_servers 100 --min_spare_servers 8 --max_spare_servers 90 \
			>"$tmp/postfwd.log" 2>&1 || true
		for _ in $(seq 50); do [ -s "$d/master.pid" ] && break; sleep 0.1; done
		srv_pid=$(cat "$d/master.pid" 2>/dev/null || true)
		[ -n "$srv_pid" ] || { echo "postfwd: did not start, skipped"; grep -v Redundant "$tmp/postfwd.log" | tail -3; return; }
		;;
	mtpolicyd)
		command -v mtpolicyd >/dev/null || { echo "mtpolicyd: not installed, skipped"; return; }
		perl -MDBD::SQLite -e 1 2>/dev/null || { echo "mtpolicyd: DBD::SQLite (libdbd-sqlite3-perl) missing, skipped"; return; }
		rm -rf "$tmp/mtpolicyd"
		mkdir "$tmp/mtpolicyd" && chown "$peer_user:$peer_group" "$tmp/mtpolicyd"
		mt_dbfile=$shm/mt.$srv_seq/mtpolicyd.sqlite
		mkdir "$shm/mt.$srv_seq"
		mt_db "$mt_dbfile" "${tp_users[@]}" "${over_users[@]}"
		chown -R "$peer_user:$peer_group" "$shm/mt.$srv_seq"
		mt_conf "$srv_port" "$mt_dbfile" "$limit" >"$tmp/mtpolicyd.conf"
		mtpolicyd -c "$tmp/mtpolicyd.conf" -f -l 0 >>"$tmp/mtpolicyd.log" 2>&1 &
		srv_pid=$!
		;;
	esac
	started+=("$srv_pid")
	if ! wait_port "$srv_port" 60; then
		echo "$1: not listening on $srv_port after 60 s, skipped"
		tail -3 "$tmp/$1.log" 2>/dev/null || true
		stop_pids "$srv_pid"
		srv_pid=
		return
	fi
	case $1 in postfwd | mtpolicyd) sleep 3 ;; esac	# let the 72 children come up
}

# the word each server accepts with (anything else is an error in the throughput runs)
accept_word() { case $1 in mtpolicyd) echo dunno ;; *) echo DUNNO ;; esac; }
# what the peer's counter is (for the table)
counter_of() {	# counter_of NAME D0 D1 USER... - what the server counted for those accounts, or "-"
	local name=$1 d0=$2 d1=$3
	shift 3
	case $name in
	mhpolicyd) redis_used "$d0" "$d1" "$@" ;;
	mtpolicyd) mt_used "$mt_dbfile" "$@" ;;
	postfwd) pf_used "$@" ;;
	*) echo - ;;
	esac
}

results=$tmp/results		# NAME CONNS RPS P50 P99 P999 ERRORS GRANTED_RELAYS COUNTER LOST
: >"$results"
findings=()
overs=$tmp/overs		# NAME USER GRANTED COUNTER LIMIT REFUSED LOST
: >"$overs"

# --- the concurrency run: requests to push every account OVER_PUSH x past the limit
over_requests() {	# over_requests UNIT - requests for OVER_PUSH x limit x accounts, UNIT relays|rcpts
	awk -v sizes="$OVER_SIZES" -v counts="$OVER_COUNTS" -v push="$OVER_PUSH" -v lim="$over_limit" \
	    -v n="$OVER_ACCOUNTS" -v unit="$1" 'BEGIN {
		MB = 1048576
		nz = split(sizes, z, ","); nk = split(counts, k, ",")
		for (i = 1; i <= nz; i++) {
			m = z[i] > 50 * MB ? 0 : (z[i] == 50 * MB ? 6 : int(z[i] / (10 * MB)) + 1)
			if (unit == "rcpts") m = 1
			ms += m
		}
		for (i = 1; i <= nk; i++) ks += k[i]
		avg = (ks / nk) * (ms / nz)
		if (avg <= 0) avg = 1
		r = push * lim * n / avg
		print (r == int(r)) ? r : int(r) + 1
	}'
}
over_run() {	# over_run NAME - the concurrency run against the running server
	local name=$1 unit=relays d0 d1 j n u rcpts relays refused lost granted counter
	[ "$name" = mhpolicyd ] || unit=rcpts
	n=$(over_requests "$unit")
	d0=$(redis_day)
	if ! j=$(timeout -k 5 $((OVER_SECONDS + 30)) "$LOADGEN" -s "inet:127.0.0.1:$srv_port" -m eom \
		-c "$OVER_CONNS" -w 0 -d "$OVER_SECONDS" -n "$n" -u "$(IFS=,; echo "${over_users[*]}")" \
		-z "$OVER_SIZES" -k "$OVER_COUNTS" --json 2>"$tmp/loadgen.err"); then
		echo "$name: concurrency run: loadgen failed: $(cat "$tmp/loadgen.err")"
		[ "$name" = mhpolicyd ] && findings+=("concurrency run: loadgen failed: $(cat "$tmp/loadgen.err")")
		return
	fi
	d1=$(redis_day)
	echo "$name: $(jget sent "$j") END-OF-MESSAGE requests in $(jget seconds "$j") s at $OVER_CONNS connections (limit $over_limit $unit per account, $OVER_ACCOUNTS accounts)"
	local counted=
	while read -r u _ rcpts relays refused lost; do
		if [ "$unit" = relays ]; then granted=$relays; else granted=$rcpts; fi
		counter=$(counter_of "$name" "$d0" "$d1" "$u")
		echo "$name $u $granted $counter $over_limit $refused $lost" >>"$overs"
		counted="$counted,\"$u\":$counter"
	done < <(jaccounts "$j")
	[ -n "${OUT:-}" ] && echo "{\"bench\":\"quota\",\"phase\":\"overshoot\",\"name\":\"$name\",\"limit\":$over_limit,\"unit\":\"$unit\",\"counted\":{${counted#,}},${j#\{}" >>"$OUT"
	return 0
}

run_bound=$(awk -v w="$WARMUP" -v d="$DURATION" 'BEGIN { print int(w + d + 60) }')	# seconds, loadgen's own end included
echo "== $DURATION s per run after $WARMUP s warm-up; connections: $CONNS; $(nproc) cores; loadgen on the same machine"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== throughput: $ACCOUNTS accounts a run, sizes $SIZES, recipient counts $COUNTS; limits set high (nothing refused)"
printf '%-10s %5s %11s %9s %9s %9s %7s %12s %12s  %s\n' server conns 'decisions/s' 'p50 ms' 'p99 ms' 'p99.9 ms' errors \
	'granted' 'counted' 'counter check'
for name in $SERVERS; do
	case $name in mhpolicyd | null | mtpolicyd | postfwd) ;; *) echo "$name: unknown server, skipped"; continue ;; esac
	start_server "$name" $((BLOCKS * PER_BLOCK))
	[ -n "$srv_pid" ] || continue
	word=$(accept_word "$name")
	for c in $CONNS; do
		users=$(users_list "t${c}u" "$ACCOUNTS")
		d0=$(redis_day)
		if ! j=$(timeout -k 5 "$run_bound" "$LOADGEN" -s "inet:127.0.0.1:$srv_port" -m eom \
			-c "$c" -d "$DURATION" -w "$WARMUP" -n "$MAXREQ" -u "$users" -z "$SIZES" -k "$COUNTS" \
			-e "$word" --json 2>"$tmp/loadgen.err"); then
			echo "$name at $c connections: loadgen failed: $(cat "$tmp/loadgen.err")"
			[ "$name" = mhpolicyd ] && findings+=("loadgen failed against mhpolicyd at $c connections: $(cat "$tmp/loadgen.err")")
			continue
		fi
		d1=$(redis_day)
		rps=$(jget rps "$j") p50=$(jget p50_us "$j") p99=$(jget p99_us "$j") p999=$(jget p999_us "$j")
		err=$(jget errors "$j") granted=$(jget granted_relays "$j") lost=$(jget lost "$j")
		counter=$(counter_of "$name" "$d0" "$d1" ${users//,/ })
		check=-
		if [ "$counter" != - ] && [ "$counter" != "?" ]; then
			if [ "$lost" != 0 ]; then
				check="$lost requests without an answer: cannot say"
			elif [ "$counter" = "$granted" ]; then
				check=exact
			else
				check="OFF by $((counter - granted))"
			fi
		fi
		[ -n "${OUT:-}" ] && echo "{\"bench\":\"quota\",\"phase\":\"throughput\",\"name\":\"$name\",\"counter\":\"$counter\",${j#\{}" >>"$OUT"
		printf '%-10s %5s %11.0f %9s %9s %9s %7s %12s %12s  %s\n' "$name" "$c" "$rps" "$(ms "$p50")" "$(ms "$p99")" \
			"$(ms "$p999")" "$err" "$granted" "$counter" "$check"
		[ "$err" != 0 ] && echo "           first error: $(jget first_error "$j")"
		echo "$name $c $rps $p50 $p99 $p999 $err $granted $counter $lost" >>"$results"
		if [ "$name" = mhpolicyd ]; then
			if ! kill -0 "$srv_pid" 2>/dev/null; then
				findings+=("mhpolicyd exited during the run at $c connections; log: $(tail -3 "$tmp/mhpolicyd.log")")
				break
			fi
			[ "$err" != 0 ] && findings+=("mhpolicyd at $c connections: $err errors (first: $(jget first_error "$j"))")
			[ "$check" != exact ] && findings+=("mhpolicyd at $c connections: Redis's counters $counter, relays answered DUNNO $granted: $check")
		fi
	done
	if [ "$name" = mhpolicyd ]; then
		echo "== concurrency run"
		over_run mhpolicyd
		w=$(grep -E 'warning|error|fatal|panic' "$tmp/mhpolicyd.log" | grep -v 'running as root' || true)
		[ -n "$w" ] && findings+=("mhpolicyd logged: $(head -3 <<<"$w")")
	fi
	stop_pids "$srv_pid"
	if [ "$PEER_OVERSHOOT" = 1 ] && { [ "$name" = mtpolicyd ] || [ "$name" = postfwd ]; }; then
		start_server "$name" "$over_limit"
		if [ -n "$srv_pid" ]; then
			echo "== concurrency run"
			over_run "$name"
			stop_pids "$srv_pid"
		fi
	fi
done

echo
echo "== ratios (decisions/s)"
for c in $CONNS; do
	awk -v c="$c" '
		$2 == c && $1 == "mhpolicyd" { mh = $3 }
		$2 == c && $1 == "null" { nul = $3 }
		$2 == c && $1 != "mhpolicyd" && $1 != "null" && $3 > best { best = $3; who = $1 }
		END {
			if (mh == "") exit
			line = sprintf("%3d connections: mhpolicyd %.0f decisions/s", c, mh)
			if (best > 0) line = line sprintf("; / best peer (%s, %.0f) = %.1f", who, best, mh / best)
			if (nul > 0) line = line sprintf("; / null server (%.0f) = %.2f", nul, mh / nul)
			print line
		}' "$results"
done

if [ -s "$overs" ]; then
	echo
	echo "== concurrency run: $OVER_CONNS connections, $OVER_ACCOUNTS accounts, each pushed ${OVER_PUSH}x past a limit of $over_limit"
	echo "   (mhpolicyd: relays = recipients x size multiplier, sizes $OVER_SIZES, recipient counts $OVER_COUNTS;"
	echo "    the peers count recipients, the only unit they have)"
	printf '%-10s %-8s %9s %9s %9s %9s %6s  %s\n' server account granted counted limit refused lost verdict
	while read -r name u granted counter limit refused lost; do
		v=
		[ "$granted" -gt "$limit" ] && v="OVER by $((granted - limit))"
		[ "$counter" != "$granted" ] && v="${v:+$v; }counter != granted"
		[ "$lost" != 0 ] && v="${v:+$v; }$lost unanswered"
		if [ -z "$v" ]; then
			if [ "$granted" = "$limit" ]; then v="exact, full"; else v="exact, $((limit - granted)) left"; fi
		fi
		printf '%-10s %-8s %9s %9s %9s %9s %6s  %s\n' "$name" "$u" "$granted" "$counter" "$limit" "$refused" "$lost" "$v"
	done <"$overs"
	echo
	awk '{ if ($3 > $5) o[$1] += $3 - $5; if ($4 > $5) oc[$1] += $4 - $5; if ($4 != $3) m[$1]++
		u[$1] += $7; if ($3 == $5) f[$1]++; n[$1]++ }
		END { for (s in n) printf "%-10s overshoot: %d (granted past the limit, all accounts; counted past it: %d); counter != granted: %d accounts, %d requests unanswered; at the limit exactly: %d of %d\n", s, o[s], oc[s], m[s], u[s], f[s], n[s] }' "$overs" | sort
	if grep -q '^mhpolicyd ' "$overs"; then
		o=$(awk '$1 == "mhpolicyd" && $3 > $5 { s += $3 - $5 } END { print s + 0 }' "$overs")
		m=$(awk '$1 == "mhpolicyd" && ($4 != $3 || $7 != 0) { s++ } END { print s + 0 }' "$overs")
		[ "$o" != 0 ] && findings+=("concurrency run: mhpolicyd granted $o relays past the limit")
		[ "$m" != 0 ] && findings+=("concurrency run: $m accounts where Redis's counter != relays granted (or unanswered requests)")
	fi
fi

echo
echo "== Redis after the runs: $(cli DBSIZE) keys, $(cli INFO memory | sed -n 's/^used_memory_human:\(.*\)\r*$/\1/p' | tr -d '\r') used"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ${#findings[@]} -gt 0 ]; then
	echo "== FINDINGS (mhpolicyd)"
	printf -- '- %s\n' "${findings[@]}"
else
	echo "== mhpolicyd: no errors, every answer action=DUNNO in the throughput runs, Redis's counters exact, overshoot 0"
fi
