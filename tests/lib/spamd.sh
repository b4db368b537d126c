# tests/lib/spamd.sh - a real spamd (SpamAssassin) for tests.
#
#   . "$TESTS_LIB/common.sh"; . "$TESTS_LIB/spamd.sh"
#   spamd_start [LOCAL.CF LINE...]   # then SPAMD_PORT, SPAMD_SOCK, SPAMD_PID
#   spamd_restart                    # again, same port and socket (after spamd_stop or a kill)
#
# spamd runs in the foreground on a free loopback port and on a unix
# socket in $TMP, registered so that common.sh stops it by PID, with a
# private site config: the stock plugins (*.pre), no Bayes, no
# auto-learning, no DNS, no RBLs, no network checks, plus the lines given
# (e.g. test rules of known scores). As root it drops to nobody.
# SPAMD_RULES=gtube: instead of the installed rule set (which spamd takes
# about a minute to read), only the stock plugins and one rule, GTUBE
# (score 1000): spamd starts in under a second, for tests that stop and
# start it (tests/faults). spamd still parses, scores and answers as ever.
# SPAMD_CHILDREN: spamd's --max-children (default 2).
# Skips the test (77) when spamd is not installed (Debian: spamassassin, spamd).

SPAMD_BIN=${SPAMD_BIN:-$(command -v spamd || echo /usr/sbin/spamd)}
[ -x "$SPAMD_BIN" ] || skip_all "spamd not installed (Debian: spamassassin spamd)"
SPAMD_START_TIMEOUT=120		# seconds: spamd reads every rule file at start
SPAMD_SITE=$TMP/sa-site		# the private site config (--siteconfigpath)
SPAMD_SOCK=$TMP/spamd.sock
SPAMD_PORT= SPAMD_PID=
SPAMD_RULES=${SPAMD_RULES:-installed}
SPAMD_CHILDREN=${SPAMD_CHILDREN:-2}	# --max-children (Debian's /etc/default/spamd: 5)
SPAMD_GEN=0

# spamd_listening PORT PID - spamd listens on PORT, or has exited (stop waiting)
spamd_listening() {
	ss -Htln 2>/dev/null | awk '{print $4}' | grep -qE "[:.]$1\$" || ! pid_alive "$2"
}

# spamd_ping - spamd answers PING on its unix socket (it serves: its rules are read)
spamd_ping() {
	/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(b"PING SPAMC/1.5\r\n\r\n"); sys.exit(0 if b" PONG" in s.recv(64) else 1)' "$SPAMD_SOCK" 2>/dev/null
}

# spamd_start [LINE...] - write the site config and start spamd
spamd_start() {
	local pre line
	mkdir -p "$SPAMD_SITE" "$TMP/spamd-home"
	for pre in /etc/spamassassin/*.pre; do
		[ -f "$pre" ] || continue
		case $(basename "$pre") in sa-compile.pre) continue ;; esac	# compiled rules: not ours
		cp "$pre" "$SPAMD_SITE/"
	done
	{
		printf '%s\n' 'use_bayes 0' 'bayes_auto_learn 0' 'skip_rbl_checks 1' 'dns_available no' \
			'use_razor2 0' 'use_pyzor 0'
		for line in "$@"; do printf '%s\n' "$line"; done
	} >"$SPAMD_SITE/local.cf"
	if [ "$SPAMD_RULES" = gtube ]; then
		mkdir -p "$TMP/sa-rules"
		for pre in /usr/share/spamassassin/*.pre; do
			[ -f "$pre" ] && cp "$pre" "$TMP/sa-rules/"
		done
		printf '%s\n' 'body GTUBE /XJS\*C4JDBQADN1\.NSBN3\*2IDNEN\*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL\*C\.34X/' \
			'describe GTUBE Generic Test for Unsolicited Bulk Email' 'score GTUBE 1000' 'required_score 5' \
			>"$TMP/sa-rules/10_gtube.cf"
		chmod -R go+rX "$TMP/sa-rules"
	fi
	# spamd drops root for nobody; it must reach its config and home
	if [ "$(id -u)" = 0 ]; then
		chmod go+x "$TMP"
		chmod -R go+rX "$SPAMD_SITE"
		chown nobody "$TMP/spamd-home"
	fi
	SPAMD_PORT=$(free_port) || hard_error "no free port"
	spamd_restart
	echo "# spamd $("$SPAMD_BIN" --version 2>/dev/null | head -n 1 | sed 's/.*version //') pid $SPAMD_PID on 127.0.0.1:$SPAMD_PORT and $SPAMD_SOCK (rules: $SPAMD_RULES)"
}

# spamd_restart - start spamd on SPAMD_PORT and SPAMD_SOCK (spamd_start first); waits until it answers PING
spamd_restart() {
	local -a args=()
	[ "$(id -u)" = 0 ] && args+=(-u nobody)
	[ "$SPAMD_RULES" = gtube ] && args+=(-C "$TMP/sa-rules")
	rm -f "$SPAMD_SOCK"
	local name=spamd
	SPAMD_GEN=$((SPAMD_GEN + 1))
	[ "$SPAMD_GEN" -gt 1 ] && name=spamd.$SPAMD_GEN
	start_bg "$name" "$SPAMD_BIN" \
		--listen="127.0.0.1:$SPAMD_PORT" --listen="$SPAMD_SOCK" \
		-x -L --allowed-ips=127.0.0.1 --pidfile="$TMP/spamd.pid" -s stderr \
		--siteconfigpath="$SPAMD_SITE" -H "$TMP/spamd-home" "${args[@]}" \
		--max-children="$SPAMD_CHILDREN" --min-children=1 --timeout-child=60
	SPAMD_PID=$BG_PID
	if ! wait_until "$SPAMD_START_TIMEOUT" spamd_listening "$SPAMD_PORT" "$SPAMD_PID" || ! pid_alive "$SPAMD_PID"; then
		tail -n 20 "$TMP/$name.log" | sed 's/^/#   /'
		hard_error "spamd did not start on 127.0.0.1:$SPAMD_PORT"
	fi
	wait_until 10 test -S "$SPAMD_SOCK" || hard_error "spamd made no socket $SPAMD_SOCK"
	wait_until 30 spamd_ping || hard_error "spamd does not answer PING on $SPAMD_SOCK"
}
