#!/bin/bash
# bench/capacity/run.sh - what one customer domain and one outbound account
# cost in Redis memory, measured: a private redis-server (no persistence),
# DOMAINS domains made with mhlist (relay, dest and port, default settings),
# each with a user list of USERS entries (mhlist users import, local parts
# like those of a real company: first.last-N), WL sender-list entries and
# VERDICTS cached call-ahead verdicts (the value mhpolicyd writes); then
# ACCOUNTS outbound accounts with a day's counter. Redis's used_memory
# before and after each step, divided by the count, and MEMORY USAGE of
# one key of each kind.
#
# usage: bench/capacity/run.sh      (DOMAINS=20 USERS=10000 WL=20 VERDICTS=1000 ACCOUNTS=1000
#                                    MHLIST=build/mhlist/mhlist)
# Bounded: DOMAINS x USERS entries; loopback only; the server is stopped by
# PID at the end. Needs redis-server and redis-cli.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
MHLIST=${MHLIST:-$top/build/mhlist/mhlist}
DOMAINS=${DOMAINS:-20} USERS=${USERS:-10000} WL=${WL:-20} VERDICTS=${VERDICTS:-1000} ACCOUNTS=${ACCOUNTS:-1000}
[ -x "$MHLIST" ] || { echo "run.sh: build mhlist first ($MHLIST)" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mhkit-capacity.XXXXXX")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
	--logfile "$tmp/redis.log" --daemonize no >/dev/null 2>&1 &
rpid=$!
trap 'kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
printf 'user = "root";\nredis = { host = "127.0.0.1"; port = %s; };\n' "$port" >"$tmp/mhkit.conf"
mh() { "$MHLIST" -c "$tmp/mhkit.conf" "$@" >/dev/null; }
rc() { redis-cli -p "$port" "$@"; }
mem() { rc INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }
per() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.0f", (b - a) / n }'; }

echo "# redis $(rc INFO server | sed -n 's/^redis_version:\(.*\)\r$/\1/p'), $DOMAINS domains x $USERS users, $WL whitelist entries, $VERDICTS verdicts each; $ACCOUNTS accounts"
m0=$(mem)
for d in $(seq "$DOMAINS"); do mh domain add "customer$d.example" --service relay --dest "mail.customer$d.example" --port 2525; done
m1=$(mem)
for d in $(seq "$DOMAINS"); do
	awk -v n="$USERS" -v d="$d" 'BEGIN { for (i = 1; i <= n; i++) printf "first%d.last%d-%d\n", i % 977, i, d }' >"$tmp/users"
	mh users import "customer$d.example" "$tmp/users"
done
m2=$(mem)
for d in $(seq "$DOMAINS"); do
	mh whitelist add "customer$d.example" $(for i in $(seq "$WL"); do printf '@partner%d.example ' "$i"; done)
done
m3=$(mem)
# verdicts as mhpolicyd writes them (common/cacache.c): "accept AT CODE HOST:PORT TEXT", 7 days
for d in $(seq "$DOMAINS"); do
	awk -v n="$VERDICTS" -v d="$d" -v t="$(date +%s)" 'BEGIN { for (i = 1; i <= n; i++)
		printf "SET mh:{customer%d.example}:ca:first%d.last%d-%d \"accept %d 250 mail.customer%d.example:2525 2.1.5 Ok\" PX 604800000\n", d, i % 977, i, d, t, d }' 
done | rc --pipe >/dev/null
m4=$(mem)
for a in $(seq "$ACCOUNTS"); do echo "account add user$a@customer.example --blocks 2"; done >"$tmp/accts"
while read -r line; do mh $line; done <"$tmp/accts"
m5=$(mem)
one_users=$(rc MEMORY USAGE "mh:{customer1.example}:users")
one_cfg=$(rc MEMORY USAGE "mh:{customer1.example}:cfg")
echo "used_memory (bytes): start $m0, +domains $m1, +user lists $m2, +whitelists $m3, +verdicts $m4, +accounts $m5"
echo "per domain: settings $(per "$m0" "$m1" "$DOMAINS") B (MEMORY USAGE of mh:{D}:cfg: $one_cfg B)"
echo "per user-list entry: $(per "$m1" "$m2" $((DOMAINS * USERS))) B; a $USERS-entry list: $(per "$m1" "$m2" "$DOMAINS") B (MEMORY USAGE: $one_users B)"
echo "per whitelist entry: $(per "$m2" "$m3" $((DOMAINS * WL))) B"
echo "per cached verdict: $(per "$m3" "$m4" $((DOMAINS * VERDICTS))) B"
echo "per account (settings): $(per "$m4" "$m5" "$ACCOUNTS") B"
echo "keys: $(rc DBSIZE)"
