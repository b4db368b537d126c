#!/bin/bash
# bench/import/run.sh - `mhlist users import` of N generated local parts
# versus `redis-cli --pipe` loading the same members into a set, on one
# private redis-server (loopback, no persistence). Prints the times and
# ratios. Usage: bench/import/run.sh [N] [MHLIST]   (N default 1000000)
set -euo pipefail
N=${1:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
MHLIST=${2:-${MHLIST:-$here/../../build/mhlist/mhlist}}
[ -x "$MHLIST" ] || { echo "no mhlist at $MHLIST (build first or pass its path)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server not installed" >&2; exit 1; }

tmp=$(mktemp -d)
redis_pid=
cleanup() {
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 10000))
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
	--daemonize no --logfile "$tmp/redis.log" &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
cli() { redis-cli -p "$port" "$@"; }
printf 'redis = { host = "127.0.0.1"; port = %d; };\n' "$port" >"$tmp/mhkit.conf"

ms() { echo $(( $(date +%s%N) / 1000000 )); }

echo "generating $N local parts..."
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) printf "user%07d.%s\n", i, substr("abcdefghij", i % 10 + 1, 3) }' >"$tmp/users.txt"
# the same members as RESP: one SADD a member (the plain --pipe way) and 1,000 a command
awk -v key='mh:{bench.example}:users' '{ printf "*3\r\n$4\r\nSADD\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(key), key, length($0), $0 }' \
	"$tmp/users.txt" >"$tmp/single.resp"
awk -v key='mh:{bench.example}:users' -v b=1000 '
	function flush() { if (n == 0) return; printf "*%d\r\n$4\r\nSADD\r\n$%d\r\n%s\r\n%s", n + 2, length(key), key, buf; n = 0; buf = "" }
	{ buf = buf sprintf("$%d\r\n%s\r\n", length($0), $0); if (++n == b) flush() }
	END { flush() }' "$tmp/users.txt" >"$tmp/batched.resp"
size=$(stat -c %s "$tmp/users.txt")

"$MHLIST" -c "$tmp/mhkit.conf" domain add bench.example --service relay --dest mx.bench.example >/dev/null

run_pipe() {	# run_pipe FILE - seconds.millis of redis-cli --pipe
	cli DEL 'mh:{bench.example}:users' >/dev/null
	local t0 t1
	t0=$(ms)
	cli --pipe <"$1" >"$tmp/pipe.out"
	t1=$(ms)
	grep -q 'errors: 0' "$tmp/pipe.out" || { cat "$tmp/pipe.out" >&2; exit 1; }
	[ "$(cli SCARD 'mh:{bench.example}:users')" = "$N" ] || { echo "pipe loaded a wrong count" >&2; exit 1; }
	echo $((t1 - t0))
}

run_mhlist() {	# run_mhlist - milliseconds of mhlist users import (replace)
	cli DEL 'mh:{bench.example}:users' >/dev/null
	local t0 t1
	t0=$(ms)
	/usr/bin/time -f '%M' -o "$tmp/rss" "$MHLIST" -c "$tmp/mhkit.conf" users import bench.example "$tmp/users.txt" >/dev/null
	t1=$(ms)
	[ "$(cli SCARD 'mh:{bench.example}:users')" = "$N" ] || { echo "mhlist imported a wrong count" >&2; exit 1; }
	echo $((t1 - t0))
}

best() { sort -n | head -n1; }
runs=${RUNS:-3}
m=$(for _ in $(seq "$runs"); do run_mhlist; done | best)
rss=$(cat "$tmp/rss")
p1=$(for _ in $(seq "$runs"); do run_pipe "$tmp/single.resp"; done | best)
pb=$(for _ in $(seq "$runs"); do run_pipe "$tmp/batched.resp"; done | best)

echo
echo "import of $N local parts ($((size / 1048576)) MB file), best of $runs runs, $(nproc) cores"
printf '%-44s %8s ms\n' "mhlist users import (parse+validate+swap)" "$m"
printf '%-44s %8s ms\n' "redis-cli --pipe, one SADD per member" "$p1"
printf '%-44s %8s ms\n' "redis-cli --pipe, SADD of 1,000 members" "$pb"
awk -v m="$m" -v p1="$p1" -v pb="$pb" 'BEGIN {
	printf "ratio mhlist / pipe (one SADD a member):  %.2f\n", m / p1
	printf "ratio mhlist / pipe (1,000 a SADD):       %.2f\n", m / pb
}'
echo "mhlist peak RSS: $((rss / 1024)) MB"
