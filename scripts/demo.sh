#!/bin/bash
# scripts/demo.sh - the README's first command. Installs what it needs,
# builds mhkit, starts a private Redis on a loopback port and shows mhlist
# managing a customer domain, its user list, sender lists and an outbound
# account. Stops everything it started on exit.
#
# (The Postfix roles, mhpolicyd and mhmilter join this demo as they land:
# see the open issues.)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_DEPS:-0}" = 1 ] || scripts/deps.sh >/dev/null
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure --enable-werror >/dev/null; } && make -j"$(nproc)" >/dev/null)

demo=$(mktemp -d)
redis_pid=
cleanup() {
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
	rm -rf "$demo"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 10000))
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$demo" \
	--daemonize no --logfile "$demo/redis.log" &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
printf 'redis = { host = "127.0.0.1"; port = %d; };\n' "$port" >"$demo/mhkit.conf"

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
mh() { say "mhlist $*"; build/mhlist/mhlist -c "$demo/mhkit.conf" "$@" || echo "(exit $?)"; }

mh domain add example.com --service relay --dest mail.example.com --port 2525 --userlist on
mh domain add backup.example --service backup
mh domain set example.com --tag_limit 6 --dnsbls zen.spamhaus.org
mh domain list
mh domain show example.com
printf 'alice\nbob\n# a comment\nCarol@example.com\n' >"$demo/users.txt"
mh users import example.com "$demo/users.txt"
mh users list example.com
mh whitelist add example.com @partner.example 192.0.2.0/24
mh blacklist add --global .spam.example
mh blacklist add --global 10.0.0.1/8
mh account add bob@example.com --blocks 2
mh --json account show bob@example.com
say "redis-cli --scan   # the keys, one hash tag per object"
redis-cli -p "$port" --scan | sort
