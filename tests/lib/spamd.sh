# tests/lib/spamd.sh - a real spamd (SpamAssassin) for tests.
#
#   . "$TESTS_LIB/common.sh"; . "$TESTS_LIB/spamd.sh"
#   spamd_start [LOCAL.CF LINE...]   # then SPAMD_PORT, SPAMD_SOCK, SPAMD_PID
#
# spamd runs in the foreground on a free loopback port and on a unix
# socket in $TMP, registered so that common.sh stops it by PID, with a
# private site config: the stock plugins (*.pre), no Bayes, no
# auto-learning, no DNS, no RBLs, no network checks, plus the lines given
# (e.g. test rules of known scores). As root it drops to nobody.
# Skips the test (77) when spamd is not installed (Debian: spamassassin, spamd).

SPAMD_BIN=${SPAMD_BIN:-$(command -v spamd || echo /usr/sbin/spamd)}
[ -x "$SPAMD_BIN" ] || skip_all "spamd not installed (Debian: spamassassin spamd)"
SPAMD_START_TIMEOUT=120		# seconds: spamd reads every rule file at start
SPAMD_SITE=$TMP/sa-site		# the private site config (--siteconfigpath)
SPAMD_SOCK=$TMP/spamd.sock
SPAMD_PORT= SPAMD_PID=

# spamd_listening PORT PID - spamd listens on PORT, or has exited (stop waiting)
spamd_listening() {
	ss -Htln 2>/dev/null | awk '{print $4}' | grep -qE "[:.]$1\$" || ! pid_alive "$2"
}

# spamd_start [LINE...] - write the site config and start spamd
spamd_start() {
	local pre line
	local -a user_args=()
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
	# spamd drops root for nobody; it must reach its config and home
	if [ "$(id -u)" = 0 ]; then
		chmod go+x "$TMP"
		chmod -R go+rX "$SPAMD_SITE"
		chown nobody "$TMP/spamd-home"
		user_args=(-u nobody)
	fi
	SPAMD_PORT=$(free_port) || hard_error "no free port"
	start_bg spamd "$SPAMD_BIN" --listen="127.0.0.1:$SPAMD_PORT" --listen="$SPAMD_SOCK" \
		-x -L --allowed-ips=127.0.0.1 --pidfile="$TMP/spamd.pid" -s stderr \
		--siteconfigpath="$SPAMD_SITE" -H "$TMP/spamd-home" "${user_args[@]}" \
		--max-children=2 --min-children=1 --timeout-child=60
	SPAMD_PID=$BG_PID
	if ! wait_until "$SPAMD_START_TIMEOUT" spamd_listening "$SPAMD_PORT" "$SPAMD_PID" || ! pid_alive "$SPAMD_PID"; then
		tail -n 20 "$TMP/spamd.log" | sed 's/^/#   /'
		hard_error "spamd did not start on 127.0.0.1:$SPAMD_PORT"
	fi
	wait_until 10 test -S "$SPAMD_SOCK" || hard_error "spamd made no socket $SPAMD_SOCK"
	echo "# spamd $("$SPAMD_BIN" --version 2>/dev/null | head -n 1 | sed 's/.*version //') pid $SPAMD_PID on 127.0.0.1:$SPAMD_PORT and $SPAMD_SOCK"
}
