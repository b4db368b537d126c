#!/bin/bash
# bench/policy/run.sh - requests/s and latency of mhpolicyd against its
# peers (postfwd, postgrey, mtpolicyd on Redis) and a do-nothing C server,
# all on loopback, driven by our own closed-loop load generator (loadgen.c)
# at 1, 8 and 64 connections; plus mhpolicyd's RSS idle and with 1,000
# idle connections. Prints a table and the ratios; asserts nothing.
#
# Usage: bench/policy/run.sh          (from the top of the tree, after make)
# Environment:
#   DURATION=5 WARMUP=1    seconds recorded / warm-up, per run
#   CONNS="1 8 64"         connection counts
#   IDLE=1000              idle connections for the RSS measurement
#   SERVERS="mhpolicyd mh-nocache null postfwd postgrey mtpolicyd"
#                          (mh-nocache: mhpolicyd with policyd.cache_size = 0,
#                          every lookup a Redis round trip)
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
IDLE=${IDLE:-1000}
SERVERS=${SERVERS:-"mhpolicyd mh-nocache null postfwd postgrey mtpolicyd"}
INSTALL=${INSTALL:-1}
CC=${CC:-gcc}
MAXREQ=100000000		# -n bound of every run, on top of DURATION

for f in "$MHPOLICYD" "$MHLIST"; do
	[ -x "$f" ] || { echo "no $f (build first: cd build && make)" >&2; exit 1; }
done
command -v redis-server >/dev/null || { echo "redis-server not installed" >&2; exit 1; }

tmp=$(mktemp -d /tmp/mhkit-bench-policy.XXXXXX)
chmod 755 "$tmp"			# the peers run as nobody / postgrey
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
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

used_ports=" "
# below the ephemeral range (net.ipv4.ip_local_port_range, 32768.. on Debian):
# a port chosen there can be taken meanwhile by one of the thousands of
# client connections this script opens, and the server then cannot bind
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
vm() {	# vm PID KEY - VmRSS or VmHWM in kB
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}
jget() {	# jget KEY JSON - a number or string of loadgen's --json line
	sed -n "s/.*\"$1\":\\(\"[^\"]*\"\\|[^,}]*\\).*/\\1/p" <<<"$2" | tr -d '"'
}

echo "== building loadgen and null_policyd"
$CC -std=c11 -O2 -Wall -Wextra -Werror -o "$tmp/loadgen" "$here/loadgen.c"
$CC -std=c11 -O2 -Wall -Wextra -Werror -o "$tmp/null_policyd" "$here/null_policyd.c"
LOADGEN=$tmp/loadgen

# the peers, from Debian; libredis-perl for mtpolicyd's Redis backends
# (not one of the package's dependencies)
want_peer() { case " $SERVERS " in *" $1 "*) return 0 ;; esac; return 1; }
missing=()
want_peer postfwd && ! command -v postfwd2 >/dev/null && missing+=(postfwd)
want_peer postgrey && ! command -v postgrey >/dev/null && missing+=(postgrey)
want_peer mtpolicyd && ! command -v mtpolicyd >/dev/null && missing+=(mtpolicyd)
want_peer mtpolicyd && ! perl -MRedis -e 1 2>/dev/null && missing+=(libredis-perl)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ]; then
		echo "== apt-get install -y ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$tmp/apt.log" 2>&1 \
			|| { tail -5 "$tmp/apt.log"; echo "apt-get failed: peers that are missing will be skipped"; }
	else
		echo "== not installing ${missing[*]} (INSTALL=$INSTALL, uid $(id -u)): those peers are skipped"
	fi
fi
# users the peers drop to
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
cli() { redis-cli -p "$redis_port" "$@"; }
for _ in $(seq 50); do cli PING >/dev/null 2>&1 && break; sleep 0.1; done

# --- the traffic: recipients, senders, clients -----------------------------------
RCPTS=bob@example.com,alice@example.com,carol@example.com
SENDERS=newsletter@shop.example,jane@partner.example,info@news.example
CLIENTS=$(for i in $(seq 10 25); do
	if [ $((i % 2)) = 0 ]; then printf '203.0.113.%d,' "$i"; else printf '198.51.100.%d,' "$i"; fi
done)
CLIENTS=${CLIENTS%,}
ZONES="zen.bench.example bl.bench.example"

# --- mhpolicyd ---------------------------------------------------------------------
free_port mh_port
free_port mh_sm_port
free_port dns_port
cat >"$tmp/mhkit.conf" <<EOF
user = "root";
redis = { host = "127.0.0.1"; port = $redis_port; };
policyd = { listen = "inet:127.0.0.1:$mh_port"; socketmap = "inet:127.0.0.1:$mh_sm_port"; };
node = { hostnames = ["relay1.bench.example"]; };
# nothing answers here: every DNS answer the run needs is pre-seeded in Redis
dns = { servers = ["127.0.0.1@$dns_port"]; timeout = "1s"; };
EOF
# the same without the local cache: every lookup goes to Redis
free_port mhn_port
free_port mhn_sm_port
sed -e "s/^policyd = .*/policyd = { listen = \"inet:127.0.0.1:$mhn_port\"; socketmap = \"inet:127.0.0.1:$mhn_sm_port\"; cache_size = \"0\"; };/" \
	"$tmp/mhkit.conf" >"$tmp/mhkit-nocache.conf"
mhl() { "$MHLIST" -c "$tmp/mhkit.conf" "$@" >/dev/null; }
mhl domain add example.com --service relay --dest mx.example.com --userlist on --dnsbls "${ZONES// /,}" --callahead off
mhl users add example.com bob alice postmaster
mhl whitelist add example.com @partner.example 192.0.2.7
mhl whitelist add --global .trusted.example
mhl blacklist add example.com @spam.example
cli SET 'mh:{example.com}:mx' "10 relay1.bench.example" EX 3600 >/dev/null
for ip in ${CLIENTS//,/ }; do
	for z in $ZONES; do cli SET "mh:{dnsbl:$z:$ip}" clean EX 3600 >/dev/null; done
done

# --- postfwd -----------------------------------------------------------------------
cat >"$tmp/postfwd.cf" <<'EOF'
id=SIZE01; protocol_state==RCPT; size>=52428801; action=REJECT 5.3.4 Message size exceeds fixed limit
id=BLCLIENT; client_address=192.0.2.0/24; action=REJECT 5.7.1 Client host blocked
id=HELO01; helo_name=~^\[?[0-9.]+\]?$; action=REJECT 5.7.1 HELO must be a host name
id=WLPARTNER; sender=~@partner\.example$; action=DUNNO
id=POSTMASTER; recipient=~^postmaster@; action=DUNNO
id=RATE01; client_address=!!(127.0.0.0/8); action=rate(client_address/1000000/3600/450 4.7.1 Too many requests from $$client_address)
id=DEFAULT; action=DUNNO
EOF

# --- mtpolicyd ---------------------------------------------------------------------
mt_conf() {	# mt_conf PORT
	cat <<EOF
user=$peer_user
group=$peer_group
pid_file="$tmp/mtpolicyd/mtpolicyd.pid"
log_level=2
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

<Connection redis>
  module = "Redis"
  server = "127.0.0.1:$redis_port"
  db = 1
</Connection>

<SessionCache>
  module = "Redis"
  redis = "redis"
  expire = "300"
</SessionCache>

<VirtualHost $1>
	name="bench"
	<Plugin size-limit>
		module = "Condition"
		key = "size"
		gt_match = 52428800
		action = "reject message too large"
	</Plugin>
	<Plugin partners>
		module = "Condition"
		key = "sender"
		re_match = "@partner\\.example\$"
		action = "dunno"
	</Plugin>
	<Plugin greylist>
		module = "Greylist"
		score = -5
		mode = "passive"
		create_ticket = 1
		use_autowl = 1
		<Ticket>
			module = "Redis"
			redis = "redis"
			prefix = "gl-ticket-"
		</Ticket>
		<AWL>
			module = "Redis"
			redis = "redis"
			prefix = "gl-awl-"
		</AWL>
	</Plugin>
</VirtualHost>
EOF
}

# start_server NAME - start one server; sets srv_pid, srv_port (empty pid: skipped)
start_server() {
	srv_pid=
	free_port srv_port
	case $1 in
	mhpolicyd)
		srv_port=$mh_port
		"$MHPOLICYD" -c "$tmp/mhkit.conf" -f 2>"$tmp/mhpolicyd.log" &
		srv_pid=$!
		;;
	mh-nocache)
		srv_port=$mhn_port
		"$MHPOLICYD" -c "$tmp/mhkit-nocache.conf" -f 2>"$tmp/mh-nocache.log" &
		srv_pid=$!
		;;
	null)
		"$tmp/null_policyd" "inet:127.0.0.1:$srv_port" &
		srv_pid=$!
		;;
	postfwd)
		command -v postfwd2 >/dev/null || { echo "postfwd: not installed, skipped"; return; }
		mkdir "$tmp/postfwd" && chown "$peer_user:$peer_group" "$tmp/postfwd"
		local cache_port
		free_port cache_port
		# it daemonizes: the master's pid comes from its pidfile. --perfmon: no
		# logging (there is no syslog here, and its -L would go to the client)
		postfwd2 -f "$tmp/postfwd.cf" --server_socket "tcp:127.0.0.1:$srv_port" \
			--cache_socket "tcp:127.0.0.1:$cache_port" --pidfile "$tmp/postfwd/master.pid" \
			-u "$peer_user" -g "$peer_group" --perfmon \
			--min_servers 72 --max_servers 100 --min_spare_servers 8 --max_spare_servers 90 \
			>"$tmp/postfwd.log" 2>&1 || true
		for _ in $(seq 50); do [ -s "$tmp/postfwd/master.pid" ] && break; sleep 0.1; done
		srv_pid=$(cat "$tmp/postfwd/master.pid" 2>/dev/null || true)
		[ -n "$srv_pid" ] || { echo "postfwd: did not start, skipped"; grep -v Redundant "$tmp/postfwd.log" | tail -3; return; }
		;;
	postgrey)
		command -v postgrey >/dev/null || { echo "postgrey: not installed, skipped"; return; }
		local pg_user=$peer_user pg_group=$peer_group
		[ "$(id -u)" = 0 ] && id postgrey >/dev/null 2>&1 && pg_user=postgrey pg_group=postgrey
		mkdir "$tmp/postgrey" && chown "$pg_user:$pg_group" "$tmp/postgrey"
		postgrey --inet="127.0.0.1:$srv_port" --dbdir="$tmp/postgrey" --delay=60 \
			--user="$pg_user" --group="$pg_group" 2>"$tmp/postgrey.log" &
		srv_pid=$!
		;;
	mtpolicyd)
		command -v mtpolicyd >/dev/null || { echo "mtpolicyd: not installed, skipped"; return; }
		perl -MRedis -e 1 2>/dev/null || { echo "mtpolicyd: Perl Redis module (libredis-perl) missing, skipped"; return; }
		mkdir "$tmp/mtpolicyd" && chown "$peer_user:$peer_group" "$tmp/mtpolicyd"
		mt_conf "$srv_port" >"$tmp/mtpolicyd.conf"
		mtpolicyd -c "$tmp/mtpolicyd.conf" -f -l 2 >"$tmp/mtpolicyd.log" 2>&1 &
		srv_pid=$!
		;;
	esac
	started+=("$srv_pid")
	if ! wait_port "$srv_port" 30; then
		echo "$1: not listening on $srv_port after 30 s, skipped"
		tail -3 "$tmp/$1.log" 2>/dev/null || true
		stop_pids "$srv_pid"
		srv_pid=
		return
	fi
	case $1 in postfwd | mtpolicyd) sleep 2 ;; esac	# let the 72 children come up
}

# loadgen NAME CONNS [ARGS...] - one run; prints its JSON line
run_load() {
	local name=$1 c=$2
	shift 2
	"$LOADGEN" -s "inet:127.0.0.1:$srv_port" -c "$c" -d "$DURATION" -w "$WARMUP" -n "$MAXREQ" \
		-r "$RCPTS" -f "$SENDERS" -a "$CLIENTS" --json "$@"
}

results=$tmp/results		# NAME CONNS RPS P50 P99 P999 ERRORS DUNNO OTHER
: >"$results"
findings=()
mh_rss_idle='' mh_rss_idle_conns='' mh_rss_used_conns='' mh_rss_burst='' mh_hwm='' null_rss_used_conns=''

echo "== $DURATION s per run after $WARMUP s warm-up; connections: $CONNS; $(nproc) cores; loadgen on the same machine"
printf '%-10s %5s %9s %9s %9s %9s %7s  %s\n' server conns 'req/s' 'p50 ms' 'p99 ms' 'p99.9 ms' errors answers
for name in $SERVERS; do
	start_server "$name"
	[ -n "$srv_pid" ] || continue
	if [ "$name" = mhpolicyd ]; then
		sleep 0.3
		mh_rss_idle=$(vm "$srv_pid" VmRSS)
	fi
	for c in $CONNS; do
		extra=()
		case $name in mhpolicyd | mh-nocache | null) extra=(-e DUNNO) ;; esac
		if ! j=$(run_load "$name" "$c" "${extra[@]}" 2>"$tmp/loadgen.err"); then
			echo "$name at $c connections: loadgen failed: $(cat "$tmp/loadgen.err")"
			[ "$name" = mhpolicyd ] && findings+=("loadgen failed against mhpolicyd at $c connections: $(cat "$tmp/loadgen.err")")
			continue
		fi
		[ -n "${OUT:-}" ] && echo "{\"name\":\"$name\",${j#\{}" >>"$OUT"
		rps=$(jget rps "$j") p50=$(jget p50_us "$j") p99=$(jget p99_us "$j") p999=$(jget p999_us "$j")
		err=$(jget errors "$j") ok=$(jget answers_DUNNO "$j") other=$(jget answers_other "$j")
		first=$(jget first_other "$j")
		ans="DUNNO $ok"
		[ "$other" != 0 ] && ans="$ans, other $other (\"${first:0:60}\")"
		printf '%-10s %5s %9.0f %9.3f %9.3f %9.3f %7s  %s\n' "$name" "$c" "$rps" \
			"$(awk -v v="$p50" 'BEGIN{print v/1000}')" "$(awk -v v="$p99" 'BEGIN{print v/1000}')" \
			"$(awk -v v="$p999" 'BEGIN{print v/1000}')" "$err" "$ans"
		echo "$name $c $rps $p50 $p99 $p999 $err $ok $other" >>"$results"
		if [ "$name" = mh-nocache ]; then
			[ "$err" != 0 ] && findings+=("mh-nocache at $c connections: $err errors (first: $(jget first_error "$j"))")
			[ "$other" != 0 ] && findings+=("mh-nocache at $c connections: $other answers other than DUNNO (first: $first)")
		fi
		if [ "$name" = mhpolicyd ]; then
			if ! kill -0 "$srv_pid" 2>/dev/null; then
				findings+=("mhpolicyd exited during the run at $c connections; log: $(tail -3 "$tmp/mhpolicyd.log")")
				break
			fi
			[ "$err" != 0 ] && findings+=("mhpolicyd at $c connections: $err errors (first: $(jget first_error "$j"))")
			[ "$other" != 0 ] && findings+=("mhpolicyd at $c connections: $other answers other than DUNNO (first: $first)")
		fi
	done
	if [ "$name" = mhpolicyd ] && kill -0 "$srv_pid" 2>/dev/null; then
		mh_hwm=$(vm "$srv_pid" VmHWM)
		# RSS with IDLE idle connections: never used; each used once (64 requests
		# in flight at a time); and all IDLE sending their one request at once
		j=$("$LOADGEN" -s "inet:127.0.0.1:$srv_port" -c 1 -d 1 -w 0.5 -n "$MAXREQ" -a "$CLIENTS" \
			-i "$IDLE" -p "$srv_pid" -e DUNNO --json) && mh_rss_idle_conns=$(jget rss_kb "$j")
		j=$("$LOADGEN" -s "inet:127.0.0.1:$srv_port" -c 1 -d 1 -w 0.5 -n "$MAXREQ" -a "$CLIENTS" \
			-r "$RCPTS" -f "$SENDERS" -i "$IDLE" -I -p "$srv_pid" -e DUNNO --json) && mh_rss_used_conns=$(jget rss_kb "$j")
		[ "$(jget errors "$j")" = 0 ] || findings+=("mhpolicyd with $IDLE idle connections: $(jget errors "$j") errors (first: $(jget first_error "$j"))")
		j=$("$LOADGEN" -s "inet:127.0.0.1:$srv_port" -c 1 -d 1 -w 0.5 -n "$MAXREQ" -a "$CLIENTS" \
			-r "$RCPTS" -f "$SENDERS" -i "$IDLE" -I -b "$IDLE" -p "$srv_pid" -e DUNNO --json) && mh_rss_burst=$(jget rss_kb "$j")
		[ "$(jget errors "$j")" = 0 ] || findings+=("mhpolicyd with $IDLE connections sending at once: $(jget errors "$j") errors (first: $(jget first_error "$j"))")
		mh_rss_after=$(vm "$srv_pid" VmRSS)
		w=$(grep -E 'warning|error|fatal|panic' "$tmp/mhpolicyd.log" | grep -v 'running as root' || true)
		[ -n "$w" ] && findings+=("mhpolicyd logged: $(head -3 <<<"$w")")
	fi
	if [ "$name" = null ] && kill -0 "$srv_pid" 2>/dev/null; then
		j=$("$LOADGEN" -s "inet:127.0.0.1:$srv_port" -c 1 -d 1 -w 0.5 -n "$MAXREQ" -i "$IDLE" -I \
			-p "$srv_pid" --json) && null_rss_used_conns=$(jget rss_kb "$j")
	fi
	stop_pids "$srv_pid"
done

echo
echo "== ratios (req/s)"
for c in $CONNS; do
	awk -v c="$c" '
		$2 == c && $1 == "mhpolicyd" { mh = $3 }
		$2 == c && $1 == "mh-nocache" { nc = $3 }
		$2 == c && $1 == "null" { nul = $3 }
		$2 == c && $1 != "mhpolicyd" && $1 != "mh-nocache" && $1 != "null" && $3 > best { best = $3; who = $1 }
		END {
			if (mh == "") exit
			line = sprintf("%3d connections: mhpolicyd %.0f req/s", c, mh)
			if (best > 0) line = line sprintf("; / best peer (%s, %.0f) = %.2f", who, best, mh / best)
			if (nul > 0) line = line sprintf("; / null server (%.0f) = %.2f", nul, mh / nul)
			if (nc > 0) line = line sprintf("; without the local cache %.0f req/s", nc)
			if (nc > 0 && best > 0) line = line sprintf(" (%.2f x the best peer)", nc / best)
			print line
		}' "$results"
done

if [ -n "$mh_rss_idle" ]; then
	echo
	echo "== mhpolicyd memory (VmRSS)"
	echo "idle, after start:                                   $((mh_rss_idle / 1024)) MB ($mh_rss_idle kB)"
	[ -n "$mh_hwm" ] && echo "peak after the load runs (VmHWM):                    $((mh_hwm / 1024)) MB ($mh_hwm kB)"
	[ -n "$mh_rss_idle_conns" ] && echo "with $IDLE idle connections (no request yet):       $((mh_rss_idle_conns / 1024)) MB ($mh_rss_idle_conns kB)"
	[ -n "$mh_rss_used_conns" ] && echo "with $IDLE idle connections (one request each, 64 at a time): $((mh_rss_used_conns / 1024)) MB ($mh_rss_used_conns kB)"
	[ -n "$mh_rss_burst" ] && echo "with $IDLE connections that sent one request at once: $((mh_rss_burst / 1024)) MB ($mh_rss_burst kB)"
	[ -n "${mh_rss_after:-}" ] && echo "after those connections closed:                      $((mh_rss_after / 1024)) MB ($mh_rss_after kB)"
	[ -n "$null_rss_used_conns" ] && echo "(null server with $IDLE idle connections, one request each: $((null_rss_used_conns / 1024)) MB)"
fi

echo
if [ ${#findings[@]} -gt 0 ]; then
	echo "== FINDINGS (mhpolicyd)"
	printf -- '- %s\n' "${findings[@]}"
else
	echo "== mhpolicyd: no errors, every answer action=DUNNO, nothing logged under load"
fi
