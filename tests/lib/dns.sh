# tests/lib/dns.sh - a real authoritative DNS server (tests/lib/dnsd.py) for tests.
#
#   . "$TESTS_LIB/common.sh"; . "$TESTS_LIB/dns.sh"
#   dns_start "$TMP/zone"                # 127.0.0.1 on a free port (53 when isolated)
#   dig @"$DNS_ADDR" -p "$DNS_PORT" example.com MX
#
# Every instance keeps its files in $TMP/dns-PORT/ (dnsd.pid, query.log,
# stdout) and is registered so that common.sh stops it by PID when the test
# ends.  The last one started sets DNS_PORT, DNS_PID, DNS_ADDR (first
# address), DNS_ADDRS (all, comma-separated) and DNS_LOG; dns_use PORT
# makes another instance the current one.  The zone file format is
# described at the top of dnsd.py.  Inside isolate.sh's namespace the
# default is port 53 on 127.0.0.1 (and ::1 when the namespace has IPv6),
# so the system resolver (getent, Postfix, libspf2) sees the same data.
# Skips the test (77) when python3 with dnslib (Debian: python3-dnslib) is
# missing.

DNSD_PY=${DNSD_PY:-$TESTS_LIB/dnsd.py}
DNS_START_TIMEOUT=10		# seconds to wait until a new server answers
DNS_RELOAD_TIMEOUT=10		# seconds to wait until reloaded data is served
declare -A DNS_PIDS=() DNS_DIRS=() DNS_ADDR_OF=()

# dns_find_python - print an interpreter that has dnslib: $DNS_PYTHON,
# Debian's /usr/bin/python3 (a pyenv or venv python3 on PATH lacks Debian's
# dist-packages), then python3 on PATH
dns_find_python() {
	local py
	for py in ${DNS_PYTHON:-} /usr/bin/python3 python3; do
		command -v "$py" >/dev/null 2>&1 || continue
		"$py" -c 'import dnslib' >/dev/null 2>&1 && { echo "$py"; return 0; }
	done
	return 1
}

DNS_PYTHON=$(dns_find_python) || skip_all "python3-dnslib not installed (apt-get install python3-dnslib)"
[ -r "$DNSD_PY" ] || hard_error "dns.sh: $DNSD_PY not found"

# dnsd ARGS... - run dnsd.py with the right interpreter
dnsd() {
	"$DNS_PYTHON" -B "$DNSD_PY" "$@"
}

# dns_generation ADDR PORT - print the generation the server serves (CH TXT generation.dnsd.)
dns_generation() {
	dnsd --probe "$1" "$2" 2>/dev/null
}

# dns_up_or_dead PID ADDR PORT - stop waiting: it answers, or it has exited
dns_up_or_dead() {
	dns_generation "$2" "$3" >/dev/null || ! pid_alive "$1"
}

# dns_spawn ZONE ADDRS PORT - start one dnsd, wait until it answers; 0 or 1
dns_spawn() {
	local zone=$1 addrs=$2 port=$3 dir pid a listen=()
	dir="$TMP/dns-$port"
	mkdir -p "$dir"
	IFS=, read -r -a a <<<"$addrs"
	for addrs in "${a[@]}"; do
		listen+=(--listen "$addrs")
	done
	# the interpreter itself, not the dnsd function: $! must be its PID
	"$DNS_PYTHON" -B "$DNSD_PY" --zone "$zone" --port "$port" "${listen[@]}" \
		--log "$dir/query.log" --pidfile "$dir/dnsd.pid" >>"$dir/stdout" 2>&1 &
	pid=$!
	register_pid "$pid"
	if ! wait_until "$DNS_START_TIMEOUT" dns_up_or_dead "$pid" "${a[0]}" "$port" || ! pid_alive "$pid"; then
		stop_pid "$pid"
		return 1
	fi
	DNS_PIDS[$port]=$pid
	DNS_DIRS[$port]=$dir
	DNS_ADDR_OF[$port]=$2
	dns_use "$port"
}

# dns_use PORT - make the instance on PORT the current one (DNS_PORT, DNS_PID, DNS_ADDR, DNS_ADDRS, DNS_LOG)
dns_use() {
	[ -n "${DNS_PIDS[$1]:-}" ] || hard_error "dns_use: no DNS server on port $1"
	DNS_PORT=$1
	DNS_PID=${DNS_PIDS[$1]}
	DNS_ADDRS=${DNS_ADDR_OF[$1]}
	DNS_ADDR=${DNS_ADDRS%%,*}
	DNS_LOG=${DNS_DIRS[$1]}/query.log
	export DNS_PORT DNS_PID DNS_ADDR DNS_ADDRS DNS_LOG
}

# dns_start ZONEFILE [ADDR[,ADDR...]] [PORT] - start dnsd serving ZONEFILE.
# ADDR defaults to 127.0.0.1, plus ::1 inside an isolated namespace with
# IPv6.  PORT defaults to 53 inside isolate.sh's namespace, else a free
# port (3 tries); a given PORT is used as is.  The zone is checked first:
# a bad file is a hard error naming the line.
dns_start() {
	local zone=$1 addrs=${2:-} port=${3:-} try p
	[ -f "$zone" ] || hard_error "dns_start: no zone file $zone"
	dnsd --check "$zone" >"$TMP/.dns-check" 2>&1 || hard_error "dns_start: $(cat "$TMP/.dns-check")"
	if [ -z "$addrs" ]; then
		addrs=127.0.0.1
		[ "${MHKIT_ISOLATED:-0}" = 1 ] && [ "${MHKIT_ISOLATED_IPV6:-0}" = 1 ] && addrs=127.0.0.1,::1
	fi
	if [ -z "$port" ] && [ "${MHKIT_ISOLATED:-0}" = 1 ] && [ -z "${DNS_PIDS[53]:-}" ]; then
		port=53
	fi
	if [ -n "$port" ]; then
		dns_spawn "$zone" "$addrs" "$port" && return 0
		hard_error "dns_start: dnsd did not start on $addrs port $port: $(tail -n 3 "$TMP/dns-$port/stdout" 2>/dev/null)"
	fi
	for try in 1 2 3; do
		p=$(free_port) || break
		dns_spawn "$zone" "$addrs" "$p" && return 0
		echo "# dns_start: failed on port $p (try $try): $(tail -n 2 "$TMP/dns-$p/stdout" 2>/dev/null)" >&2
	done
	hard_error "dns_start: dnsd did not start"
}

# dns_load_count - number of load lines (start and every reload) in the current log
dns_load_count() {
	grep -c ' load gen=' "$DNS_LOG" 2>/dev/null
}

# dns_load_count_above N - more than N load lines
dns_load_count_above() {
	[ "$(dns_load_count)" -gt "$1" ]
}

# dns_reload - SIGHUP the current server, wait until the new zone is
# served (its generation went up); a bad zone file is a hard error naming
# the line (the server itself keeps serving the old data)
dns_reload() {
	local before gen last
	[ -n "${DNS_PID:-}" ] || hard_error "dns_reload: no DNS server"
	before=$(dns_load_count)
	gen=$(dns_generation "$DNS_ADDR" "$DNS_PORT") || hard_error "dns_reload: server on port $DNS_PORT does not answer"
	kill -HUP "$DNS_PID" || hard_error "dns_reload: cannot signal pid $DNS_PID"
	wait_until "$DNS_RELOAD_TIMEOUT" dns_load_count_above "$before" ||
		hard_error "dns_reload: no reload within $DNS_RELOAD_TIMEOUT s"
	last=$(grep ' load gen=' "$DNS_LOG" | tail -n 1)
	case $last in
	*" ok "*) ;;
	*) hard_error "dns_reload: ${last#* load }" ;;
	esac
	[ "$(dns_generation "$DNS_ADDR" "$DNS_PORT")" -gt "$gen" ] ||
		hard_error "dns_reload: server still serves generation $gen"
}

# dns_queries NAME [TYPE] - print how many IN queries for NAME (any case,
# trailing dot optional) of TYPE (any type if not given) the current server
# has logged, answered or dropped
dns_queries() {
	local name type=${2:-}
	name=$(printf '%s' "$1" | tr 'A-Z' 'a-z')
	name=${name%.}
	[ -n "$name" ] || name=.
	awk -v name="name=$name" -v type="${type:+type=$type}" '
		$2 == "query" && $6 == "class=IN" && $7 == name && (type == "" || toupper($8) == toupper(type)) { n++ }
		END { print n + 0 }' "$DNS_LOG"
}

# dns_stop [PORT] - stop the server on PORT (default: the current one) by PID
dns_stop() {
	local port=${1:-${DNS_PORT:-}}
	[ -n "$port" ] && [ -n "${DNS_PIDS[$port]:-}" ] || return 0
	stop_pid "${DNS_PIDS[$port]}"
	unset "DNS_PIDS[$port]"
	[ "${DNS_PORT:-}" = "$port" ] && DNS_PID=
	return 0
}
