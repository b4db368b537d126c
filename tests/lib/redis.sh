# tests/lib/redis.sh - real redis-server and Sentinel instances for tests.
#
#   . "$TESTS_LIB/common.sh"; . "$TESTS_LIB/redis.sh"
#
# Every instance listens on 127.0.0.1 (or REDIS_HOST, set before the first
# start: e.g. a bridge's address that other namespaces reach; every helper
# and mhkit_conf_write use it too) on a free port and on a unix socket,
# keeps its files in $TMP/redis-NAME/, saves nothing, and is registered so
# that common.sh stops it by PID when the test ends.  Instances have names
# (default "redis"); the last one started also sets REDIS_PORT, REDIS_PID,
# REDIS_SOCK and REDIS_DIR.  Skips the test (77) when redis-server is missing.

need_cmd redis-server redis-cli

REDIS_HOST=${REDIS_HOST:-127.0.0.1}
declare -A REDIS_PORTS=() REDIS_PIDS=() REDIS_ARGS=()
REDIS_START_TIMEOUT=5		# seconds to wait for PING

# redis_dir NAME - its directory (data, log, socket)
redis_dir() {
	echo "$TMP/redis-${1:-redis}"
}

# redis_port NAME / redis_pid NAME / redis_sock NAME
redis_port() { echo "${REDIS_PORTS[${1:-redis}]}"; }
redis_pid() { echo "${REDIS_PIDS[${1:-redis}]}"; }
redis_sock() { echo "$(redis_dir "${1:-redis}")/redis.sock"; }

# redis_cli NAME ARGS... - redis-cli against that instance (add -a/--user yourself)
redis_cli() {
	local name=$1
	shift
	redis-cli --no-auth-warning -h "$REDIS_HOST" -p "${REDIS_PORTS[$name]}" "$@"
}

# redis_ping PORT - true once the server answers (PONG, or NOAUTH with a password)
redis_ping() {
	local out
	out=$(redis-cli --no-auth-warning -h "$REDIS_HOST" -p "$1" PING 2>&1) || return 1
	case $out in PONG | NOAUTH* | *"NOAUTH"*) return 0 ;; esac
	return 1
}

# redis_up_or_dead PORT PID - stop waiting: it answers, or it has exited
redis_up_or_dead() {
	redis_ping "$1" || ! pid_alive "$2"
}

# redis_protected - "yes" on 127.0.0.1; "no" on another REDIS_HOST, only inside isolate.sh
redis_protected() {
	[ "$REDIS_HOST" = 127.0.0.1 ] && { echo yes; return 0; }
	[ "${MHKIT_ISOLATED:-0}" = 1 ] || hard_error "redis.sh: REDIS_HOST=$REDIS_HOST outside an isolated namespace"
	echo no
}

# redis_spawn NAME PORT EXTRA... - start one redis-server, wait for PING; 0 or 1
redis_spawn() {
	local name=$1 port=$2 dir
	shift 2
	dir=$(redis_dir "$name")
	mkdir -p "$dir"
	# protected mode refuses all but loopback clients: off on REDIS_HOST,
	# an address of the test's own namespace (isolate.sh), never the host's
	redis-server --port "$port" --bind "$REDIS_HOST" --protected-mode "$(redis_protected)" --save '' --appendonly no \
		--dir "$dir" --daemonize no --logfile "$dir/redis.log" \
		--unixsocket "$dir/redis.sock" --unixsocketperm 700 "$@" \
		>>"$dir/stdout" 2>&1 &
	local pid=$!
	register_pid "$pid"
	if ! wait_until "$REDIS_START_TIMEOUT" redis_up_or_dead "$port" "$pid" || ! pid_alive "$pid"; then
		stop_pid "$pid"
		return 1
	fi
	REDIS_PORTS[$name]=$port
	REDIS_PIDS[$name]=$pid
	REDIS_PORT=$port REDIS_PID=$pid REDIS_SOCK="$dir/redis.sock" REDIS_DIR=$dir
	export REDIS_PORT REDIS_PID REDIS_SOCK REDIS_DIR
	return 0
}

# redis_start [NAME] [redis-server ARGS...] - start an instance on a free
# port (tries 3 ports), e.g. redis_start main --requirepass secret
redis_start() {
	local name=redis try port
	if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
		name=$1
		shift
	fi
	REDIS_ARGS[$name]=
	[ $# -gt 0 ] && REDIS_ARGS[$name]="$(printf '%q ' "$@")"
	for try in 1 2 3; do
		port=$(free_port) || break
		redis_spawn "$name" "$port" "$@" && return 0
		echo "# redis_start $name: failed on port $port (try $try): $(tail -n 3 "$(redis_dir "$name")/redis.log" 2>/dev/null)" >&2
	done
	hard_error "redis_start $name: redis-server did not start"
}

# redis_stop [NAME] - SIGTERM and wait (by PID)
redis_stop() {
	local name=${1:-redis}
	[ -n "${REDIS_PIDS[$name]:-}" ] && stop_pid "${REDIS_PIDS[$name]}"
	REDIS_PIDS[$name]=
}

# redis_kill [NAME] - SIGKILL, as a crash would
redis_kill() {
	local name=${1:-redis}
	[ -n "${REDIS_PIDS[$name]:-}" ] && stop_pid "${REDIS_PIDS[$name]}" KILL
	REDIS_PIDS[$name]=
}

# redis_restart [NAME] - stop, then start again on the same port and data dir with the same arguments
redis_restart() {
	local name=${1:-redis} try
	redis_stop "$name"
	eval "set -- ${REDIS_ARGS[$name]}"
	for try in 1 2 3 4 5; do
		redis_spawn "$name" "${REDIS_PORTS[$name]}" "$@" && return 0
		sleep 0.2
	done
	hard_error "redis_restart $name: redis-server did not come back on port ${REDIS_PORTS[$name]}"
}

# --- Sentinel ------------------------------------------------------------------

SENTINEL_MASTER=mymaster
SENTINEL_PORTS=()
SENTINEL_PIDS=()
SENTINEL_DOWN_AFTER_MS=1000
SENTINEL_FAILOVER_TIMEOUT_MS=5000

# sentinel_master_addr [SENTINEL_PORT] - "host port" that a sentinel names for mymaster
sentinel_master_addr() {
	redis-cli -h "$REDIS_HOST" -p "${1:-${SENTINEL_PORTS[0]}}" \
		SENTINEL get-master-addr-by-name "$SENTINEL_MASTER" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'
}

# sentinel_primary_port - port of the current primary, as the first sentinel says
sentinel_primary_port() {
	sentinel_master_addr | awk '{print $2}'
}

# sentinel_ready - every sentinel sees the primary, one replica and the two other sentinels
sentinel_ready() {
	local p info
	for p in "${SENTINEL_PORTS[@]}"; do
		info=$(redis-cli -h "$REDIS_HOST" -p "$p" SENTINEL master "$SENTINEL_MASTER" 2>/dev/null | tr '\n' ' ')
		case $info in *"num-slaves 1 "*) ;; *) return 1 ;; esac
		case $info in *"num-other-sentinels 2 "*) ;; *) return 1 ;; esac
		case $info in *"flags master "*) ;; *) return 1 ;; esac
	done
}

# replica_synced NAME - the replica's link to its primary is up
replica_synced() {
	redis_cli "$1" INFO replication 2>/dev/null | grep -q '^master_link_status:up'
}

# sentinel_start - primary "primary", replica "replica" and three sentinels
# (monitor mymaster, quorum 2, down-after SENTINEL_DOWN_AFTER_MS); waits
# until they all know each other (bounded, 30 s). Sets SENTINEL_PORTS
# (array) and SENTINEL_PIDS, and SENTINEL_ADDRS ("127.0.0.1:P1 ...").
sentinel_start() {
	local i port dir pid primary
	need_cmd redis-sentinel
	redis_start primary
	primary=$(redis_port primary)
	redis_start replica --replicaof "$REDIS_HOST" "$primary"
	wait_until 10 replica_synced replica || hard_error "sentinel_start: replica did not sync"
	SENTINEL_ADDRS=
	for i in 1 2 3; do
		port=$(free_port) || hard_error "sentinel_start: no free port"
		dir="$TMP/sentinel-$i"
		mkdir -p "$dir"
		cat >"$dir/sentinel.conf" <<EOF
port $port
bind $REDIS_HOST
protected-mode $(redis_protected)
daemonize no
dir $dir
logfile $dir/sentinel.log
sentinel monitor $SENTINEL_MASTER $REDIS_HOST $primary 2
sentinel down-after-milliseconds $SENTINEL_MASTER $SENTINEL_DOWN_AFTER_MS
sentinel failover-timeout $SENTINEL_MASTER $SENTINEL_FAILOVER_TIMEOUT_MS
sentinel parallel-syncs $SENTINEL_MASTER 1
EOF
		redis-sentinel "$dir/sentinel.conf" >>"$dir/stdout" 2>&1 &
		pid=$!
		register_pid "$pid"
		SENTINEL_PORTS+=("$port")
		SENTINEL_PIDS+=("$pid")
		SENTINEL_ADDRS="${SENTINEL_ADDRS:+$SENTINEL_ADDRS }$REDIS_HOST:$port"
	done
	export SENTINEL_ADDRS
	wait_until 30 sentinel_ready || hard_error "sentinel_start: sentinels did not discover each other in 30 s"
	REDIS_PORT=$primary REDIS_PID=$(redis_pid primary) REDIS_SOCK=$(redis_sock primary) REDIS_DIR=$(redis_dir primary)
}

# sentinel_failover - ask a sentinel to fail over now, wait (30 s) until
# the sentinels name a new primary and it says ROLE master; prints its port
sentinel_failover() {
	local old new
	old=$(sentinel_primary_port)
	redis-cli -h "$REDIS_HOST" -p "${SENTINEL_PORTS[0]}" SENTINEL failover "$SENTINEL_MASTER" >/dev/null
	wait_until 30 sentinel_primary_moved "$old" || hard_error "sentinel_failover: no new primary in 30 s"
	sentinel_primary_port
}

# sentinel_primary_moved OLDPORT - every sentinel names a primary other than OLDPORT, which says master
sentinel_primary_moved() {
	local p new
	new=$(sentinel_primary_port)
	[ -n "$new" ] && [ "$new" != "$1" ] || return 1
	for p in "${SENTINEL_PORTS[@]}"; do
		[ "$(sentinel_master_addr "$p" | awk '{print $2}')" = "$new" ] || return 1
	done
	redis-cli -h "$REDIS_HOST" -p "$new" ROLE 2>/dev/null | head -n 1 | grep -qx master
}

# redis_name_of_port PORT - which named instance listens on PORT
redis_name_of_port() {
	local n
	for n in "${!REDIS_PORTS[@]}"; do
		[ "${REDIS_PORTS[$n]}" = "$1" ] && { echo "$n"; return 0; }
	done
	return 1
}

# --- mhkit.conf ----------------------------------------------------------------

# mhkit_conf_write FILE [--instance NAME] [--redis 'TEXT'] [--no-redis] [EXTRA]
#   Writes an mhkit.conf whose redis group points at the last started
#   instance (or NAME):  redis = { host = "127.0.0.1"; port = N; TEXT };
#   --redis TEXT adds settings inside that group (password = "x"; db = 3;),
#   --no-redis leaves the group out (write your own in EXTRA);
#   as root, user = "root" is added (the daemons refuse root without
#   `user`) unless EXTRA sets user or --no-user is given;
#   EXTRA is appended as top-level libconfig text.
mhkit_conf_write() {
	local file=$1 redis_text= with_redis=1 with_user=1 port=${REDIS_PORT:-}
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--redis) redis_text=$2; shift 2 ;;
		--no-redis) with_redis=0; shift ;;
		--no-user) with_user=0; shift ;;
		--instance) port=${REDIS_PORTS[$2]:-}; shift 2 ;;
		*) break ;;
		esac
	done
	{
		echo "# written by tests/lib/redis.sh for $T_NAME"
		# the daemons refuse root without `user`: tests run as root on purpose
		if [ "$with_user" = 1 ] && [ "$(id -u)" = 0 ] && ! grep -qE '(^|[;{[:space:]])user[[:space:]]*=' <<<"$*"; then
			echo 'user = "root";'
		fi
		if [ "$with_redis" = 1 ]; then
			echo "redis = {"
			echo "  host = \"$REDIS_HOST\";"
			[ -n "$port" ] || hard_error "mhkit_conf_write: no Redis started"
			echo "  port = $port;"
			[ -n "$redis_text" ] && echo "  $redis_text"
			echo "};"
		fi
		[ $# -gt 0 ] && printf '%s\n' "$1"
	} >"$file"
}

# --- Cluster -------------------------------------------------------------------

CLUSTER_NODE_TIMEOUT_MS=1000	# a primary down this long fails over to its replica
# (cluster-replica-validity-factor 0: a replica always may; with the default
# one refused now and then, "Disconnected from master for longer than allowed")
CLUSTER_NAMES=()		# cl1 ... clN, in creation order

# cluster_start PRIMARIES REPLICAS - PRIMARIES * (1 + REPLICAS) cluster-enabled
# instances named cl1..clN, each with its own free bus port, joined with
# redis-cli --cluster create; waits until every node says cluster_state:ok
# and every replica has synced with its primary (a primary killed before
# its replica's first sync fails over to an empty replica).
# Sets CLUSTER_SEEDS ("127.0.0.1:P1 127.0.0.1:P2 ..." of every node).
cluster_start() {
	local primaries=$1 replicas=$2 n i name bus addrs=()
	n=$(( primaries * (1 + replicas) ))
	CLUSTER_NAMES=()
	for ((i = 1; i <= n; i++)); do
		name=cl$i
		bus=$(free_port) || hard_error "cluster_start: no free port"
		redis_start "$name" --cluster-enabled yes --cluster-config-file nodes.conf \
			--cluster-node-timeout "$CLUSTER_NODE_TIMEOUT_MS" --cluster-port "$bus" \
			--cluster-require-full-coverage no --cluster-replica-validity-factor 0 \
			--repl-diskless-sync-delay 0
		CLUSTER_NAMES+=("$name")
		addrs+=("$REDIS_HOST:$(redis_port "$name")")
	done
	CLUSTER_SEEDS="${addrs[*]}"
	redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$replicas" --cluster-yes \
		>"$TMP/cluster-create.log" 2>&1 || hard_error "cluster_start: redis-cli --cluster create failed: $(tail -n 5 "$TMP/cluster-create.log")"
	wait_until 30 cluster_ok || hard_error "cluster_start: the cluster did not reach cluster_state:ok"
	wait_until 30 cluster_synced || hard_error "cluster_start: a replica did not sync with its primary"
}

# cluster_synced - every running replica's link to its primary is up and
# it has applied all the primary has sent (its offset is the primary's)
cluster_synced() {
	local name info host port moff roff
	for name in "${CLUSTER_NAMES[@]}"; do
		[ -n "${REDIS_PIDS[$name]:-}" ] || continue
		info=$(redis_cli "$name" INFO replication 2>/dev/null | tr -d '\r')
		grep -q '^role:slave' <<<"$info" || continue
		grep -q '^master_link_status:up' <<<"$info" || return 1
		host=$(sed -n 's/^master_host://p' <<<"$info")
		port=$(sed -n 's/^master_port://p' <<<"$info")
		roff=$(sed -n 's/^slave_repl_offset://p' <<<"$info")
		moff=$(redis-cli -h "$host" -p "$port" INFO replication 2>/dev/null | tr -d '\r' | sed -n 's/^master_repl_offset://p')
		[ -n "$moff" ] && [ -n "$roff" ] && [ "$roff" -ge "$moff" ] || return 1
	done
}

# cluster_ok - every running node says cluster_state:ok and knows every slot
cluster_ok() {
	local name
	for name in "${CLUSTER_NAMES[@]}"; do
		[ -n "${REDIS_PIDS[$name]:-}" ] || continue
		redis_cli "$name" CLUSTER INFO 2>/dev/null | grep -q '^cluster_state:ok' || return 1
	done
}

# cluster_slot_owner SLOT - the name of the running primary serving SLOT, as cl1 (or the first live node) says
cluster_slot_owner() {
	local slot=$1 name p port
	for name in "${CLUSTER_NAMES[@]}"; do
		[ -n "${REDIS_PIDS[$name]:-}" ] && break
	done
	port=$(redis_cli "$name" CLUSTER SLOTS 2>/dev/null |
		awk -v s="$slot" '{ a[NR] = $0 } END {
			for (i = 1; i + 3 <= NR; i++)
				if (a[i] ~ /^[0-9]+$/ && a[i+1] ~ /^[0-9]+$/ && a[i] + 0 <= s && s <= a[i+1] + 0) {
					print a[i+3]; exit
				}
		}')
	for name in "${CLUSTER_NAMES[@]}"; do
		[ "$(redis_port "$name")" = "$port" ] && { echo "$name"; return 0; }
	done
	return 1
}

# cluster_id NAME - the node's cluster ID
cluster_id() {
	redis_cli "$1" CLUSTER MYID
}

# cluster_keyslot KEY - the key's slot, as a node computes it
cluster_keyslot() {
	redis_cli "${CLUSTER_NAMES[0]}" CLUSTER KEYSLOT "$1"
}
