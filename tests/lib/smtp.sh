# tests/lib/smtp.sh - a receiving SMTP server ("sink") and a sending client for tests.
#
#   . "$TESTS_LIB/common.sh"; . "$TESTS_LIB/smtp.sh"
#
# Sink: tests/lib/smtpd_sink.py (Python 3 stdlib, asyncio) on 127.0.0.1
# (or ::1), one per name, files in $TMP/sink-NAME/, registered so that
# common.sh stops it by PID.  It stores each accepted message as
# msg/NNNNNN.eml: the envelope as X-Sink-* header lines (X-Sink-Client,
# X-Sink-Helo, X-Sink-Mail-From, one X-Sink-Rcpt-To per recipient,
# X-Sink-Port), then the message exactly as received (CRLF -> LF).  It
# keeps a transcript in events.log ("c1 > RCPT TO:<x>", "c1 < 250 2.1.5 Ok")
# and answers what rules say (sink_rule), changeable while it runs.
#
# Client: send_mail wraps swaks; its transcript lands in $T_OUT, its exit
# status in $T_RC, and smtp_reply picks the reply to one command out of it:
#
#   send_mail "$port" a@example.org bob@example.com
#   assert_eq "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown" \
#       "$(smtp_rcpt_reply bob@example.com)"
#
# Skips the test (77) when python3 or swaks is missing.

need_cmd python3 swaks

SMTP_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SINK_PY="$SMTP_LIB_DIR/smtpd_sink.py"
SINK_START_TIMEOUT=15		# seconds for the sink to listen (python3 starts slowly on small VMs)
declare -A SINK_PORTS=() SINK_PIDS=() SINK_HOSTS=()

# --- the sink -------------------------------------------------------------------

# sink_dir NAME / sink_port NAME / sink_pid NAME
sink_dir() { echo "$TMP/sink-${1:-sink}"; }
sink_port() { echo "${SINK_PORTS[${1:-sink}]:-}"; }
sink_pid() { echo "${SINK_PIDS[${1:-sink}]:-}"; }

# sink_log NAME - path of its transcript (events.log)
sink_log() { echo "$(sink_dir "$1")/events.log"; }

# sink_ready_or_dead DIR PID - stop waiting: it listens, or it has exited
sink_ready_or_dead() {
	[ -s "$1/ready" ] || ! pid_alive "$2"
}

# sink_spawn NAME PORT HOST - start one sink, wait until it listens; 0 or 1
sink_spawn() {
	local name=$1 port=$2 host=$3 dir pid
	dir=$(sink_dir "$name")
	mkdir -p "$dir/msg"
	rm -f "$dir/ready"
	python3 "$SINK_PY" --dir "$dir" --port "$port" --host "$host" --name "$name" \
		>>"$dir/sink.log" 2>&1 &
	pid=$!
	register_pid "$pid"
	if ! wait_until "$SINK_START_TIMEOUT" sink_ready_or_dead "$dir" "$pid" || ! pid_alive "$pid"; then
		stop_pid "$pid"
		return 1
	fi
	SINK_PORTS[$name]=$port SINK_PIDS[$name]=$pid SINK_HOSTS[$name]=$host
	return 0
}

# sink_start NAME [PORT] [--host ::1] [--rule 'PHASE PATTERN REPLY']...
#   Start sink NAME on PORT (default: a free port; with no PORT it tries 3
#   ports).  A stopped sink keeps its messages, so sink_start NAME PORT
#   again continues its numbering ("destination comes back").  Rules:
#     PHASE   connect | helo | mail | rcpt | data | dot   (dot = after the final ".")
#     PATTERN an address, @domain or *  (mail: sender; rcpt: recipient;
#             data/dot: any accepted recipient; helo: the HELO name)
#     REPLY   "NNN text", or "close" (drop the connection), optionally after
#             "+SECONDS " (answer late, for timeouts)
#   e.g. sink_start dest --rule 'rcpt bob@example.com 550 5.1.1 <bob@example.com>: User unknown'
sink_start() {
	local name=${1:-sink} port= host=127.0.0.1 try fixed=0
	local -a rules=()
	shift
	if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
		port=$1 fixed=1
		shift
	fi
	while [ $# -gt 0 ]; do
		case $1 in
		--host) host=$2; shift 2 ;;
		--rule) rules+=("$2"); shift 2 ;;
		*) hard_error "sink_start: unknown option $1" ;;
		esac
	done
	[ -z "${SINK_PIDS[$name]:-}" ] || hard_error "sink_start: sink $name is already running"
	mkdir -p "$(sink_dir "$name")"
	[ ${#rules[@]} -gt 0 ] && printf '%s\n' "${rules[@]}" >>"$(sink_dir "$name")/rules"
	for try in 1 2 3; do
		[ "$fixed" = 1 ] || port=$(free_port) || break
		sink_spawn "$name" "$port" "$host" && return 0
		echo "# sink_start $name: failed on $host port $port (try $try): $(tail -n 2 "$(sink_dir "$name")/sink.log")" >&2
		[ "$fixed" = 1 ] && break
	done
	hard_error "sink_start $name: the sink did not start"
}

# sink_stop NAME - SIGTERM and wait (by PID); its files stay
sink_stop() {
	local name=${1:-sink}
	[ -n "${SINK_PIDS[$name]:-}" ] && stop_pid "${SINK_PIDS[$name]}"
	SINK_PIDS[$name]=
}

# sink_rule NAME 'PHASE PATTERN REPLY' - add a rule now (takes effect at the next command)
sink_rule() {
	mkdir -p "$(sink_dir "$1")"
	printf '%s\n' "$2" >>"$(sink_dir "$1")/rules"
}

# sink_rules_clear NAME - drop all rules (the sink accepts everything again)
sink_rules_clear() {
	: >"$(sink_dir "$1")/rules"
}

# sink_messages NAME - the stored message files, oldest first, one a line
sink_messages() {
	local f
	for f in "$(sink_dir "${1:-sink}")"/msg/*.eml; do
		[ -f "$f" ] && echo "$f"
	done
	return 0
}

# sink_count NAME - how many messages it has stored
sink_count() {
	sink_messages "$1" | grep -c .
}

# sink_clear NAME - forget the stored messages (numbering goes on)
sink_clear() {
	rm -f "$(sink_dir "${1:-sink}")"/msg/*.eml
}

# sink_has_at_least NAME COUNT
sink_has_at_least() {
	[ "$(sink_count "$1")" -ge "$2" ]
}

# sink_wait NAME COUNT SECONDS - wait until it has stored COUNT messages (or more); 1 on timeout
sink_wait() {
	wait_until "$3" sink_has_at_least "$1" "$2"
}

# sink_connections NAME - how many connections it has accepted (over restarts too)
sink_connections() {
	grep -c '^c[0-9]* connect ' "$(sink_log "$1")" 2>/dev/null || true
}

# sink_header FILE HEADER - the values of HEADER (case-insensitive) in the
#   header section of a stored message, one a line, folded lines joined
sink_header() {
	awk -v want="$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')" '
		/^$/ { exit }
		/^[ \t]/ { if (keep) val = val " " substr($0, match($0, /[^ \t]/)); next }
		{ if (keep) print val; keep = 0
		  i = index($0, ":"); if (i == 0) next
		  if (tolower(substr($0, 1, i - 1)) == want) { keep = 1; val = substr($0, i + 1); sub(/^[ \t]+/, "", val) } }
		END { if (keep) print val }' "$1"
}

# sink_body FILE - the body of a stored message (after the first empty line)
sink_body() {
	sed '1,/^$/d' "$1"
}

# sink_find NAME HEADER VALUE - stored messages whose HEADER is exactly VALUE, one a line
#   e.g. assert_eq 1 "$(sink_find dest Message-ID '<m1@test>' | grep -c .)" "exactly one copy"
sink_find() {
	local f
	while read -r f; do
		[ -n "$f" ] || continue
		sink_header "$f" "$2" | grep -qxF -- "$3" && echo "$f"
	done < <(sink_messages "$1")
	return 0
}

# --- sending ----------------------------------------------------------------------

# send_mail PORT|HOST:PORT|[V6]:PORT FROM TO [swaks args...]
#   Runs swaks (EHLO client.test, no pipelining, 30 s timeout) and keeps its
#   transcript (stdout and stderr) in $T_OUT, its exit status in $T_RC:
#   0 delivered, 2 no connection, 21 bad banner, 23 MAIL refused,
#   24 every RCPT refused, 25 DATA refused, 26 message refused after ".".
#   TO may be a comma-separated list.  Extra arguments go to swaks, e.g.
#     --header 'Subject: hi' --header 'Message-ID: <m1@test>' --body 'text'
#   (Message-ID, Subject, From, To and Date are respelled as swaks spells
#   them, so that they replace swaks' own instead of being added twice)
#     --helo other.test  --auth PLAIN --auth-user u --auth-password p  --tls
#   Returns 0 (check $T_RC).
send_mail() {
	local dest=$1 from=$2 to=$3 host port
	shift 3
	case $dest in
	\[*\]:*) host=${dest%%]:*}; host=${host#[}; port=${dest##*]:} ;;
	*:*) host=${dest%:*}; port=${dest##*:} ;;
	*) host=127.0.0.1; port=$dest ;;
	esac
	local -a args=()
	local a h prev=
	for a in "$@"; do	# swaks replaces its own headers only when spelled its way
		if [ "$prev" = --header ]; then
			h=$(printf '%s' "${a%%:*}" | tr '[:upper:]' '[:lower:]')
			case $h in
			message-id) a="Message-Id:${a#*:}" ;;
			subject) a="Subject:${a#*:}" ;;
			from) a="From:${a#*:}" ;;
			to) a="To:${a#*:}" ;;
			date) a="Date:${a#*:}" ;;
			esac
		fi
		args+=("$a")
		prev=$a
	done
	run swaks --server "$host" --port "$port" --from "$from" --to "$to" \
		--helo client.test --timeout 30 "${args[@]+"${args[@]}"}" 2>&1
	return 0
}

# swaks_supports FEATURE - swaks can do FEATURE ("IPv6", "TLS"; swaks --support)
swaks_supports() {
	swaks --support 2>&1 | grep -q "^=== $1 supported"
}

# smtp_reply PATTERN - from the last send_mail's transcript: the reply to the
#   first command that contains PATTERN (fixed string), one line per reply
#   line without swaks' "<- " / "<** " marks (or, inside TLS, "<~ " / "<~* "), e.g.
#     smtp_reply 'MAIL FROM:'       -> 250 2.1.0 Ok
#     smtp_reply 'RCPT TO:<x@y>'    -> 554 5.7.1 <x@y>: Relay access denied
#   The reply to the message itself (after the final "."): smtp_data_reply.
smtp_reply() {
	printf '%s\n' "$T_OUT" | awk -v pat="$1" '
		found && /^(<-  |<\*\* |<~  |<~\* )/ { print substr($0, 5); got = 1; next }
		found && got { exit }
		!found && /^ (->|~>) / && index(substr($0, 5), pat) { found = 1 }'
}

# smtp_rcpt_reply ADDRESS - the reply to RCPT TO:<ADDRESS>
smtp_rcpt_reply() {
	smtp_reply "RCPT TO:<$1>"
}

# smtp_data_reply - the reply after the message's final "." (e.g. "250 2.0.0 Ok: queued as 4XyZ")
smtp_data_reply() {
	printf '%s\n' "$T_OUT" | awk '
		found && /^(<-  |<\*\* |<~  |<~\* )/ { print substr($0, 5); got = 1; next }
		found && got { exit }
		/^ (->|~>) \.$/ { found = 1 }'
}

# smtp_queue_id - the queue ID in the last "queued as ID" reply
smtp_queue_id() {
	printf '%s\n' "$T_OUT" | sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' | tail -n 1
}
