#!/bin/bash
# test_clamd.sh - milter/clamd.c against a real clamd (Debian: clamav-daemon):
# clean and infected streams over TCP and a unix socket, a signature across
# chunk boundaries and inside a base64 attachment, a whole-stream MD5
# signature (every byte arrives, in order), max_bytes cutting the stream
# to the byte, clamd's StreamMaxLength error when a client sends more,
# parallel scans, and clamd stopped. Drives tests/integration/clamd_probe.
#
# Nothing is downloaded: the test writes its own signature database (a
# hex signature in test.ndb, an MD5 signature in test.hdb) into a private
# DatabaseDirectory, and runs clamd with a private clamd.conf (Foreground,
# a unix socket in $TMP and a free TCP port on 127.0.0.1,
# StreamMaxLength 1M), stopped by PID. No freshclam.

here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"

CLAMD=${CLAMD:-$(command -v clamd || echo /usr/sbin/clamd)}
[ -x "$CLAMD" ] || skip_all "clamd not installed (Debian: clamav-daemon)"
PROBE=${CLAMD_PROBE:-$here/clamd_probe}
[ -x "$PROBE" ] || hard_error "clamd_probe not built: $PROBE"

DIR=$TMP/clamd
SOCK=$DIR/clamd.sock
SIG=MHKIT-test-signature-7f3a9c21	# the hex signature's text (29 bytes)
NAME=MHKIT.Test.Sig.UNOFFICIAL		# what clamd calls it: a database of our own is "unofficial"
EXACT_NAME=MHKIT.Test.Exact.UNOFFICIAL
STREAM_MAX=1048576			# clamd.conf StreamMaxLength 1M
LOAD_WAIT=60				# seconds clamd may take to load the database

mkdir -p "$DIR/db" "$DIR/tmp" || hard_error "cannot make $DIR"
PORT=$(free_port) || hard_error "no free port"
INET=inet:127.0.0.1:$PORT
UNIX=unix:$SOCK

# probe ARGS... - the probe
probe() {
	"$PROBE" "$@"
}

# no_crash NAME - the last run ended by itself, not by a signal
no_crash() {
	if [ "$T_RC" -lt 128 ]; then pass "$1: no crash"; else fail "$1: no crash" "exit status $T_RC"; fi
}

# show_err - the last run's stderr as TAP comments
show_err() {
	local line
	while IFS= read -r line; do echo "#   $line"; done <<<"$T_ERR"
}

# clamd_ping - clamd answers zPING with PONG on its TCP socket (a subshell: exec stays in it)
# shellcheck disable=SC2317 # called through wait_until
clamd_ping() (
	exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
	printf 'zPING\0' >&3
	IFS= read -r -d '' -t 2 reply <&3
	[ "$reply" = PONG ] && [ -S "$SOCK" ]
)

# --- the files --------------------------------------------------------------

# text N - N bytes of printable text, 76 a line (random: never the signature)
text() {
	head -c $(( $1 * 3 / 4 + 100 )) /dev/urandom | base64 -w 76 | head -c "$1"
}

text 300000 >"$DIR/clean.txt"
{ head -c 100000 "$DIR/clean.txt"; printf '%s' "$SIG"; tail -c 150000 "$DIR/clean.txt"; } >"$DIR/sig.txt"
# across the second chunk boundary (clamd.c sends 65536-byte chunks)
{ head -c $((131072 - 13)) "$DIR/clean.txt"; printf '%s' "$SIG"; tail -c 1000 "$DIR/clean.txt"; } >"$DIR/boundary.txt"
# a mail whose attachment holds the signature, base64-encoded: clamd decodes MIME
{
	printf 'From: <alice@example.org>\nTo: <bob@example.com>\nSubject: invoice\n'
	printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1"\n\n'
	printf -- '--b1\nContent-Type: text/plain\n\nsee attachment\n'
	printf -- '--b1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n'
	printf 'Content-Disposition: attachment; filename="invoice.bin"\n\n'
	{ text 5000; printf '%s' "$SIG"; text 5000; } | base64 -w 76
	printf -- '--b1--\n'
} >"$DIR/mail.eml"
# larger than StreamMaxLength, the signature well past it
{ text 2000000; printf '%s' "$SIG"; text 1000000; } >"$DIR/big.txt"
# a whole-stream MD5 signature: one byte lost, doubled or moved and it is not found
head -c 500000 /dev/urandom >"$DIR/exact.bin"
{ cat "$DIR/exact.bin"; printf x; } >"$DIR/exact1.bin"

grep -q "$SIG" "$DIR/mail.eml" && hard_error "the mail shows the signature in clear"

printf 'MHKIT.Test.Sig:0:*:%s\n' "$(printf '%s' "$SIG" | od -An -tx1 | tr -d ' \n')" >"$DIR/db/test.ndb"
printf '%s:500000:MHKIT.Test.Exact\n' "$(md5sum <"$DIR/exact.bin" | cut -d' ' -f1)" >"$DIR/db/test.hdb"

cat >"$DIR/clamd.conf" <<EOF
Foreground yes
LocalSocket $SOCK
TCPSocket $PORT
TCPAddr 127.0.0.1
DatabaseDirectory $DIR/db
TemporaryDirectory $DIR/tmp
StreamMaxLength 1M
LogFile $DIR/clamd.log
LogTime yes
EOF

# --- start clamd -------------------------------------------------------------

echo "# $("$CLAMD" --version 2>&1)"
start_bg clamd "$CLAMD" -c "$DIR/clamd.conf"
CLAMD_PID=$BG_PID
if ! wait_until "$LOAD_WAIT" clamd_ping; then
	tail -n 20 "$TMP/clamd.log" "$DIR/clamd.log" 2>/dev/null | sed 's/^/# /'
	hard_error "clamd did not answer PING within $LOAD_WAIT s"
fi
pass "clamd answers PING"

# --- verdicts ---------------------------------------------------------------

for ep in "$INET" "$UNIX"; do
	assert_exit 0 probe "$ep" "$DIR/clean.txt"
	assert_eq ok "$T_OUT" "$ep: a clean text is ok"
	assert_exit 0 probe "$ep" "$DIR/sig.txt"
	assert_eq "found $NAME" "$T_OUT" "$ep: the signature is found, named as clamd names it"
	assert_exit 0 probe "$ep" "$DIR/boundary.txt"
	assert_eq "found $NAME" "$T_OUT" "$ep: the signature across a chunk boundary is found"
	assert_exit 0 probe "$ep" "$DIR/mail.eml"
	assert_eq "found $NAME" "$T_OUT" "$ep: the signature in a base64 attachment is found"
	assert_exit 0 probe "$ep" "$DIR/exact.bin"
	assert_eq "found $EXACT_NAME" "$T_OUT" "$ep: the whole-stream MD5 matches: every byte arrived, in order"
	assert_exit 0 probe "$ep" "$DIR/exact1.bin"
	assert_eq ok "$T_OUT" "$ep: one byte more and it does not"
done

# the same stream in other write sizes: single bytes, exactly the chunk size, large
assert_exit 0 probe --sizes 1 "$INET" "$DIR/boundary.txt"
assert_eq "found $NAME" "$T_OUT" "single-byte writes: found"
assert_exit 0 probe --sizes 65536 "$UNIX" "$DIR/exact.bin"
assert_eq "found $EXACT_NAME" "$T_OUT" "chunk-sized writes: the MD5 matches"
assert_exit 0 probe --sizes 1048576 "$INET" "$DIR/exact.bin"
assert_eq "found $EXACT_NAME" "$T_OUT" "1 MB writes: the MD5 matches"

# --- max_bytes: the stream is cut to the byte -----------------------------------

assert_exit 0 probe --max 100029 "$INET" "$DIR/sig.txt"
assert_eq "truncated found $NAME" "$T_OUT" "max_bytes at the signature's last byte: found, and truncated"
assert_exit 0 probe --max 100028 "$INET" "$DIR/sig.txt"
assert_eq "truncated ok" "$T_OUT" "max_bytes one byte short of it: not found, and truncated"
assert_exit 0 probe --max 100000 "$UNIX" "$DIR/sig.txt"
assert_eq "truncated ok" "$T_OUT" "signature after max_bytes (unix): not found, and truncated"
assert_exit 0 probe --max 250029 "$INET" "$DIR/sig.txt"
assert_eq "found $NAME" "$T_OUT" "max_bytes exactly the file's size: not truncated"
assert_exit 0 probe --max 499999 "$UNIX" "$DIR/exact.bin"
assert_eq "truncated ok" "$T_OUT" "the MD5 signature of a cut stream does not match"

# --- StreamMaxLength -------------------------------------------------------------

assert_exit 0 probe --max "$STREAM_MAX" "$INET" "$DIR/big.txt"
assert_eq "truncated ok" "$T_OUT" "max_bytes = StreamMaxLength: clamd scans, the signature past it unseen"
for ep in "$INET" "$UNIX"; do
	assert_exit 1 probe --max 4000000 "$ep" "$DIR/big.txt"
	assert_eq "error: clamd $ep: INSTREAM size limit exceeded. ERROR" "$T_OUT" \
		"$ep: max_bytes above StreamMaxLength: clamd's error is reported"
	no_crash "$ep: size limit"
	assert_exit 1 probe --max 4000000 --sizes 1048576 "$ep" "$DIR/big.txt"
	assert_eq "error: clamd $ep: INSTREAM size limit exceeded. ERROR" "$T_OUT" \
		"$ep: the same with 1 MB writes"
	no_crash "$ep: size limit, 1 MB writes"
done
assert_exit 1 probe --max $((STREAM_MAX + 1)) "$INET" "$DIR/big.txt"
assert_eq "error: clamd $INET: INSTREAM size limit exceeded. ERROR" "$T_OUT" \
	"one byte over StreamMaxLength is refused"
check "clamd logged the refusals" grep -q "INSTREAM: Size limit reached" "$DIR/clamd.log"
assert_exit 0 probe "$INET" "$DIR/clean.txt"
assert_eq ok "$T_OUT" "clamd still scans after the refusals"

# --- parallel scans ------------------------------------------------------------

pids=()
for i in 1 2 3 4 5 6 7 8; do
	if [ $((i % 2)) = 0 ]; then ep=$INET; else ep=$UNIX; fi
	probe "$ep" "$DIR/sig.txt" >"$TMP/par-$i.out" 2>&1 &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
assert_eq 0 "$bad" "8 parallel scans: all succeeded"
assert_eq 8 "$(cat "$TMP"/par-*.out | grep -cx "found $NAME")" "8 parallel scans: all found it"

# --- valgrind --------------------------------------------------------------------

if [ "${SANITIZERS:-no}" = yes ]; then
	echo "# built with sanitizers: valgrind check skipped (ASan runs instead)"
elif command -v valgrind >/dev/null 2>&1; then
	run valgrind -q --error-exitcode=99 --leak-check=full "$PROBE" "$UNIX" "$DIR/mail.eml"
	assert_eq "0 found $NAME" "$T_RC $T_OUT" "valgrind: clean through a found verdict"
	[ "$T_RC" = 0 ] || show_err
	run valgrind -q --error-exitcode=99 --leak-check=full "$PROBE" --max 4000000 "$INET" "$DIR/big.txt"
	assert_eq "1 error: clamd $INET: INSTREAM size limit exceeded. ERROR" "$T_RC $T_OUT" \
		"valgrind: clean through the size-limit error"
	[ "$T_RC" = 1 ] || show_err
fi

# --- clamd stopped -------------------------------------------------------------------

stop_pid "$CLAMD_PID"
assert_exit 1 probe "$INET" "$DIR/sig.txt"
assert_eq "error: clamd $INET: Connection refused" "$T_OUT" "clamd stopped (TCP): an error, not a verdict"
assert_exit 1 probe "$UNIX" "$DIR/sig.txt"
assert_match "$T_OUT" "^error: clamd $UNIX: (Connection refused|No such file or directory)\$" \
	"clamd stopped (unix): an error, not a verdict"

done_testing
