#!/bin/bash
# test_spamd.sh - milter/spamd.c against the real spamd (SpamAssassin):
# GTUBE is spam with GTUBE among the rules and a score of 1000 or more, a
# plain message is ham, an empty message and a 370 KB one are answered,
# a unix socket works as well as TCP, and a closed port, a missing
# socket, a deadline too short for a scan or a stopped spamd are errors
# (within the deadline), never verdicts.
# spamd runs in the foreground on a free loopback port and on a unix
# socket in $TMP, local tests only (-L), with a private site config
# (no Bayes, no auto-learn, no DNS, no RBLs): it needs no network.
# Debian packages: spamassassin, spamd. Drives tests/integration/spamd_probe.

here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"

. "$TESTS_LIB/spamd.sh"
PROBE=${SPAMD_PROBE:-$here/spamd_probe}
[ -x "$PROBE" ] || hard_error "spamd_probe not built: $PROBE"

SOCK=$SPAMD_SOCK

# probe ARGS... - the probe (stdout: its one line)
probe() {
	"$PROBE" "$@"
}

# field LINE NAME - the value of NAME= in a probe result line
field() {
	printf '%s\n' "$1" | sed -n "s/.*\(^\| \)$2=\([^ ]*\).*/\2/p" | head -n 1
}

# --- spamd: a private site config, no network, in the foreground (tests/lib/spamd.sh) ---
spamd_start
PORT=$SPAMD_PORT

# --- messages --------------------------------------------------------------------

printf '%s\r\n' \
	'From: Sender <sender@example.org>' \
	'To: rcpt@example.com' \
	'Subject: Test spam mail (GTUBE)' \
	'Message-ID: <gtube-1@example.org>' \
	'Date: Mon, 24 Nov 2025 10:00:00 +0000' \
	'' \
	'This is the GTUBE, the Generic Test for Unsolicited Bulk Email.' \
	'' \
	'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X' \
	'' >"$TMP/gtube.eml"

printf '%s\n' \
	'From: Alice Example <alice@example.org>' \
	'To: Bob Example <bob@example.com>' \
	'Subject: Minutes of Monday'"'"'s meeting' \
	'Message-ID: <20251124100000.12345@mail.example.org>' \
	'Date: Mon, 24 Nov 2025 10:00:00 +0000' \
	'MIME-Version: 1.0' \
	'Content-Type: text/plain; charset=us-ascii' \
	'' \
	'Hi Bob,' \
	'' \
	'the minutes of Monday'"'"'s meeting are below. We agreed to move the' \
	'release to the first week of December and to review the test plan' \
	'on Thursday.' \
	'' \
	'Alice' >"$TMP/ham.eml"

: >"$TMP/empty.eml"

{
	sed -n '1,/^$/p' "$TMP/ham.eml"
	for i in $(seq 1 5000); do
		echo "Line $i of a long but perfectly ordinary report about the weekly meeting."
	done
} >"$TMP/big.eml"

# --- verdicts ----------------------------------------------------------------------

assert_exit 0 probe "inet:127.0.0.1:$PORT" "$TMP/gtube.eml"
assert_eq 1 "$(field "$T_OUT" spam)" "gtube: spam"
check "gtube: score $(field "$T_OUT" score) >= 1000" awk -v s="$(field "$T_OUT" score)" 'BEGIN { exit !(s >= 1000) }'
assert_eq 5 "$(field "$T_OUT" threshold)" "gtube: spamd's threshold (required_score 5.0)"
assert_match "$(field "$T_OUT" tests | tr , '\n')" '^GTUBE$' "gtube: GTUBE among the rules"
assert_match "$(field "$T_OUT" tests)" '^[A-Z0-9_]+(,[A-Z0-9_]+)*$' "gtube: a comma list of rule names"
assert_eq 0 "$(field "$T_OUT" cut)" "gtube: nothing cut"

assert_exit 0 probe "inet:127.0.0.1:$PORT" "$TMP/ham.eml"
assert_eq 0 "$(field "$T_OUT" spam)" "ham: not spam"
check "ham: score $(field "$T_OUT" score) < 5" awk -v s="$(field "$T_OUT" score)" 'BEGIN { exit !(s < 5) }'
assert_not_contains "$(field "$T_OUT" tests)" GTUBE "ham: no GTUBE"
assert_match "$T_OUT" '^score=[-0-9.]+ threshold=5 spam=0 tests=[A-Z0-9_,]* cut=0 ms=[0-9]+$' "ham: the whole line"

assert_exit 0 probe "unix:$SOCK" "$TMP/gtube.eml"
assert_eq 1 "$(field "$T_OUT" spam)" "unix socket: gtube is spam"
assert_match "$(field "$T_OUT" tests | tr , '\n')" '^GTUBE$' "unix socket: GTUBE among the rules"

assert_exit 0 probe "inet:127.0.0.1:$PORT" "$TMP/empty.eml"
assert_match "$(field "$T_OUT" tests | tr , '\n')" '^EMPTY_MESSAGE$' "empty message: answered (EMPTY_MESSAGE)"

assert_exit 0 probe "inet:127.0.0.1:$PORT" "$TMP/big.eml"
assert_eq 0 "$(field "$T_OUT" spam)" "a big message: sent whole and answered, ham ($(wc -c <"$TMP/big.eml") bytes)"

# --- failures: errors, never verdicts -------------------------------------------------

CLOSED=$(free_port) || hard_error "no free port"
assert_exit 1 probe "inet:127.0.0.1:$CLOSED" "$TMP/gtube.eml"
assert_match "$T_OUT" "^error: spamd inet:127\.0\.0\.1:$CLOSED: connect: Connection refused ms=[0-9]+\$" "closed port: connection refused"

assert_exit 1 probe "unix:$TMP/nothing.sock" "$TMP/gtube.eml"
assert_match "$T_OUT" "^error: spamd unix:$TMP/nothing\.sock: connect: No such file or directory ms=" "missing socket: an error"

# a deadline shorter than a scan of the big message: bounded, an error
assert_exit 1 probe -t 50 "inet:127.0.0.1:$PORT" "$TMP/big.eml"
assert_match "$T_OUT" "^error: spamd inet:127\.0\.0\.1:$PORT: timeout after 50 ms (connecting|sending the message|waiting for the reply|reading the reply) ms=[0-9]+\$" "short deadline: timeout"
ms=$(field "$T_OUT" ms)
check "short deadline: returned after ${ms} ms (< 50 + 1500)" test "${ms:-9999}" -lt 1550

# spamd stopped (SIGSTOP, every process): the kernel takes the connection, nobody answers
spamd_procs=$(echo "$SPAMD_PID"; pgrep -P "$SPAMD_PID")
# shellcheck disable=SC2086 # one word a PID
kill -STOP $spamd_procs
assert_exit 1 probe -t 500 "inet:127.0.0.1:$PORT" "$TMP/gtube.eml"
# shellcheck disable=SC2086
kill -CONT $spamd_procs
assert_match "$T_OUT" "^error: spamd inet:127\.0\.0\.1:$PORT: timeout after 500 ms waiting for the reply ms=[0-9]+\$" "spamd hangs: timeout waiting for the reply"
ms=$(field "$T_OUT" ms)
check "spamd hangs: returned after ${ms} ms (500 to 2000)" test "${ms:-0}" -ge 490 -a "${ms:-9999}" -lt 2000

# spamd is still fine after a client that gave up
assert_exit 0 probe "inet:127.0.0.1:$PORT" "$TMP/gtube.eml"
assert_eq 1 "$(field "$T_OUT" spam)" "after a timeout: spamd still answers"

if [ "${SANITIZERS:-no}" = yes ]; then
	echo "# built with sanitizers: valgrind check skipped (ASan runs instead)"
elif command -v valgrind >/dev/null 2>&1; then
	run valgrind -q --error-exitcode=99 --leak-check=full "$PROBE" "inet:127.0.0.1:$PORT" "$TMP/gtube.eml"
	assert_eq 0 "$T_RC" "valgrind: clean through a real scan"
	[ "$T_RC" = 0 ] || echo "$T_ERR" | sed 's/^/#   /'
fi

stop_pid "$SPAMD_PID"
assert_exit 1 probe "inet:127.0.0.1:$PORT" "$TMP/gtube.eml"
assert_match "$T_OUT" "^error: spamd inet:127\.0\.0\.1:$PORT: connect: Connection refused" "spamd stopped: an error naming it"

done_testing
