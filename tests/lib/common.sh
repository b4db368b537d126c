# tests/lib/common.sh - what every shell test sources first.
#
#   . "${TESTS_LIB:-$(dirname "$0")/../lib}/common.sh"
#
# Gives the test a private temp dir ($TMP, removed on exit), a registry of
# the processes it starts (all stopped by PID on exit: TERM, up to 5 s,
# then KILL), free loopback ports, assertions that print what was expected
# and what was seen, and TAP-style output ending in "N passed, N failed".
# Exit status: 0 all passed, 1 some failed, 77 skipped, 99 hard error
# (automake's conventions).  The script must end with `done_testing`;
# a script that ends without it exits 99.
#
# Only loopback addresses are ever used.

set -u

T_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mhkit-$T_NAME.XXXXXX") || { echo "cannot make a temp dir" >&2; exit 99; }
export TMP
T_PASS=0
T_FAIL=0
T_NUM=0
T_DONE=0
T_PIDS=()			# every process this test started and has not stopped
T_PORT_LOCKS=()			# ports this test reserved (see free_port)
T_PORT_LOCKDIR="${TMPDIR:-/tmp}/mhkit-port-locks"
T_OUT= T_ERR= T_RC=0		# what the last `run` / assert_exit saw

# --- processes ---------------------------------------------------------------

# register_pid PID - stop PID when the test ends
register_pid() {
	T_PIDS+=("$1")
}

# unregister_pid PID - forget PID (it was stopped or waited for elsewhere)
unregister_pid() {
	local p keep=()
	for p in "${T_PIDS[@]+"${T_PIDS[@]}"}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	T_PIDS=("${keep[@]+"${keep[@]}"}")
}

# pid_alive PID - true while PID runs (a zombie counts as gone)
pid_alive() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1	# gone since kill -0
	stat=${stat##*) }
	case ${stat%% *} in Z | X) return 1 ;; esac
	return 0
}

# stop_pid PID [SIGNAL] - send SIGNAL (TERM), wait up to 5 s, then KILL; reaps and unregisters
stop_pid() {
	local pid=$1 sig=${2:-TERM} deadline
	unregister_pid "$pid"
	kill -"$sig" "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	deadline=$(( $(date +%s%N) / 1000000 + 5000 ))
	while pid_alive "$pid" && (( $(date +%s%N) / 1000000 < deadline )); do
		sleep 0.05
	done
	if pid_alive "$pid"; then
		echo "# pid $pid did not stop on SIG$sig within 5 s: KILL" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# stop_all - stop every registered process, newest first
stop_all() {
	local i
	for ((i = ${#T_PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${T_PIDS[i]}"
	done
	T_PIDS=()
}

# start_bg NAME CMD... - run CMD in the background with stdout and stderr in
# $TMP/NAME.log, register it; sets BG_PID
start_bg() {
	local name=$1
	shift
	"$@" >"$TMP/$name.log" 2>&1 &
	BG_PID=$!
	register_pid "$BG_PID"
}

# socketmap_query PORT MAP KEY - one socketmap query to 127.0.0.1:PORT on a
# connection of its own (bash /dev/tcp: no process); prints the reply's
# payload ("OK relay.test", "NOTFOUND ", "TEMP ...") or "connect failed"
socketmap_query() {
	local q="$2 $3" reply=
	exec 3<>"/dev/tcp/127.0.0.1/$1" || { echo "connect failed"; return 0; }
	printf '%d:%s,' "${#q}" "$q" >&3
	IFS= read -r -d , -t 3 reply <&3
	exec 3<&-
	printf '%s\n' "${reply#*:}"
}

# --- ports ------------------------------------------------------------------

# port_in_use PORT - something listens on or uses 127.0.0.1:PORT
port_in_use() {
	ss -Htan 2>/dev/null | awk '{print $4; print $5}' | grep -qE "[:.]$1\$" && return 0
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
	return 1
}

# free_port - print an unused loopback TCP port, reserved for this test.
# Ports come from 20000-32767 (below Linux's ephemeral range, so no
# outgoing connection takes them), are checked with ss, and are reserved
# with an atomic mkdir under $T_PORT_LOCKDIR so that tests run in
# parallel never hand out the same port; a reservation whose test died
# is reclaimed. A server may still lose a race with a foreign program:
# redis_start retries on another port when that happens.
# Call it as port=$(free_port); the reservation outlives the subshell.
free_port() {
	local port i owner
	mkdir -p "$T_PORT_LOCKDIR" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
		if ! mkdir "$T_PORT_LOCKDIR/$port" 2>/dev/null; then
			owner=$(cat "$T_PORT_LOCKDIR/$port/pid" 2>/dev/null)
			[ -n "$owner" ] && kill -0 "$owner" 2>/dev/null && continue
			rm -rf "$T_PORT_LOCKDIR/$port"
			mkdir "$T_PORT_LOCKDIR/$port" 2>/dev/null || continue
		fi
		echo $$ >"$T_PORT_LOCKDIR/$port/pid"
		echo "$port" >>"$TMP/.ports"
		if port_in_use "$port"; then
			continue	# keep the reservation: it is busy anyway
		fi
		echo "$port"
		return 0
	done
	echo "free_port: no free port found" >&2
	return 1
}

# t_release_ports - drop this test's port reservations
t_release_ports() {
	local port
	[ -f "$TMP/.ports" ] || return 0
	while read -r port; do
		[ "$(cat "$T_PORT_LOCKDIR/$port/pid" 2>/dev/null)" = "$$" ] && rm -rf "$T_PORT_LOCKDIR/$port"
	done <"$TMP/.ports"
}

# --- waiting ----------------------------------------------------------------

# wait_until SECONDS CMD... - run CMD every 0.1 s until it succeeds; 1 on timeout
wait_until() {
	local deadline=$(( $(date +%s%N) / 1000000 + ${1%.*} * 1000 ))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		(( $(date +%s%N) / 1000000 >= deadline )) && return 1
		sleep 0.1
	done
}

# now_ms - wall-clock milliseconds since the epoch
now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# --- results ----------------------------------------------------------------

# pass NAME - record a passing check
pass() {
	T_NUM=$((T_NUM + 1))
	T_PASS=$((T_PASS + 1))
	echo "ok $T_NUM - $1"
}

# fail NAME [DETAIL...] - record a failing check; each DETAIL printed as "#   DETAIL"
fail() {
	local line
	T_NUM=$((T_NUM + 1))
	T_FAIL=$((T_FAIL + 1))
	echo "not ok $T_NUM - $1"
	shift
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/#   /'
	done
}

# check NAME CMD... - pass when CMD succeeds
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}

# check_that NAME 'CONDITION' - passes when the shell CONDITION (eval'd) holds:
# for compound ones ("check NAME [ a ] && [ b ]" would test only [ a ])
check_that() {
	if eval "$2"; then pass "$1"; else fail "$1" "false: $2"; fi
}

# run CMD... - run CMD, keep stdout in $T_OUT, stderr in $T_ERR, status in $T_RC
run() {
	"$@" >"$TMP/.out" 2>"$TMP/.err"
	T_RC=$?
	T_OUT=$(cat "$TMP/.out")
	T_ERR=$(cat "$TMP/.err")
	return 0
}

# assert_eq EXPECTED ACTUAL [NAME]
assert_eq() {
	local name=${3:-"value is '$1'"}
	if [ "$1" = "$2" ]; then
		pass "$name"
	else
		fail "$name" "expected: $1" "got:      $2"
	fi
}

# assert_contains HAYSTACK NEEDLE [NAME] - NEEDLE is a fixed string
assert_contains() {
	local name=${3:-"contains '$2'"}
	case $1 in
	*"$2"*) pass "$name" ;;
	*) fail "$name" "expected to contain: $2" "got: $1" ;;
	esac
}

# assert_not_contains HAYSTACK NEEDLE [NAME]
assert_not_contains() {
	local name=${3:-"does not contain '$2'"}
	case $1 in
	*"$2"*) fail "$name" "expected not to contain: $2" "got: $1" ;;
	*) pass "$name" ;;
	esac
}

# assert_match TEXT ERE [NAME] - some line of TEXT matches the extended regex
assert_match() {
	local name=${3:-"matches /$2/"}
	if printf '%s\n' "$1" | grep -qE -- "$2"; then
		pass "$name"
	else
		fail "$name" "expected a line matching: $2" "got: $1"
	fi
}

# assert_exit CODE CMD... - CMD exits with CODE; its output stays in $T_OUT/$T_ERR
assert_exit() {
	local code=$1
	shift
	run "$@"
	if [ "$T_RC" = "$code" ]; then
		pass "exit $code: $*"
	else
		fail "exit $code: $*" "expected exit: $code" "got exit:      $T_RC" \
			"stdout: $T_OUT" "stderr: $T_ERR"
	fi
}

# skip_all REASON - skip the whole test (exit 77)
skip_all() {
	echo "1..0 # SKIP $*"
	T_DONE=1
	exit 77
}

# need_cmd CMD... - skip unless every CMD is on PATH
need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_all "$c not installed"
	done
}

# hard_error MSG - the test itself cannot go on (exit 99)
hard_error() {
	echo "Bail out! $*"
	T_DONE=1
	exit 99
}

# done_testing - print the plan and "N passed, N failed"; exit 0 or 1
done_testing() {
	echo "1..$T_NUM"
	echo "$T_PASS passed, $T_FAIL failed"
	T_DONE=1
	[ "$T_FAIL" -eq 0 ] && exit 0
	exit 1
}

# t_sanitizer_reports - print the logs in $TMP (two levels down) that hold
# a sanitizer report; true if there is none. A daemon stopped at cleanup
# reports leaks as it exits, after every check has run: this catches them.
t_sanitizer_reports() {
	local f found=0
	[ -n "${TMP:-}" ] && [ -d "$TMP" ] || return 0
	while IFS= read -r f; do
		found=1
		echo "# sanitizer report in ${f#"$TMP"/}:"
		grep -E -A 30 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$f" | head -n 60 | sed 's/^/#   /'
	done < <(find "$TMP" -maxdepth 2 -name '*.log' -type f -size -64M \
		-exec grep -l -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' {} + 2>/dev/null)
	[ "$found" = 0 ]
}

# t_cleanup - on exit: stop what we started, release ports, look for
# sanitizer reports, remove $TMP
t_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_all
	t_release_ports
	if ! t_sanitizer_reports; then
		echo "not ok - a process this test started reported a memory error, a leak or undefined behaviour"
		[ "$rc" = 0 ] && rc=1
	fi
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "# kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	if [ "$T_DONE" = 0 ]; then
		echo "Bail out! test script ended before done_testing (status $rc)"
		echo "$T_PASS passed, $((T_FAIL + 1)) failed"
		exit 99
	fi
	exit "$rc"
}

trap t_cleanup EXIT
trap 'exit 99' INT TERM
