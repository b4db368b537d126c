# tests/lib/clamd.sh - a real clamd (ClamAV) for tests, with a signature
# database of its own (nothing downloaded, no freshclam).
#
#   . "$TESTS_LIB/common.sh"; . "$TESTS_LIB/clamd.sh"
#   clamd_start                  # then CLAMD_SOCK (unix socket), CLAMD_PID
#   clamd_mail_with_signature F  # a MIME mail whose base64 attachment matches
#
# The database holds one hex signature, CLAMD_SIG's text, which clamd calls
# CLAMD_SIG_NAME (a database of our own is "unofficial"). clamd runs in the
# foreground with a private clamd.conf (unix socket in $TMP,
# StreamMaxLength 25M), registered so that common.sh stops it by PID.
# Skips the test (77) when clamd is not installed (Debian: clamav-daemon).

CLAMD=${CLAMD:-$(command -v clamd || echo /usr/sbin/clamd)}
[ -x "$CLAMD" ] || skip_all "clamd not installed (Debian: clamav-daemon)"
CLAMD_DIR=$TMP/clamd
CLAMD_SOCK=$CLAMD_DIR/clamd.sock
CLAMD_SIG=MHKIT-test-signature-7f3a9c21
CLAMD_SIG_NAME=MHKIT.Test.Sig.UNOFFICIAL
CLAMD_LOAD_WAIT=60		# seconds clamd may take to load the database
CLAMD_PID=

# clamd_ping - clamd answers zPING on its unix socket
clamd_ping() {
	/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(b"zPING\0"); sys.exit(0 if s.recv(16).startswith(b"PONG") else 1)' "$CLAMD_SOCK" 2>/dev/null
}

# clamd_start - write the database and the configuration (once), start clamd
clamd_start() {
	if [ ! -f "$CLAMD_DIR/clamd.conf" ]; then
		mkdir -p "$CLAMD_DIR/db" "$CLAMD_DIR/tmp"
		printf 'MHKIT.Test.Sig:0:*:%s\n' "$(printf '%s' "$CLAMD_SIG" | od -An -tx1 | tr -d ' \n')" \
			>"$CLAMD_DIR/db/test.ndb"
		cat >"$CLAMD_DIR/clamd.conf" <<CONF
Foreground yes
LocalSocket $CLAMD_SOCK
DatabaseDirectory $CLAMD_DIR/db
TemporaryDirectory $CLAMD_DIR/tmp
StreamMaxLength 25M
LogFile $CLAMD_DIR/clamd.log
CONF
	fi
	start_bg clamd "$CLAMD" -c "$CLAMD_DIR/clamd.conf"
	CLAMD_PID=$BG_PID
	wait_until "$CLAMD_LOAD_WAIT" clamd_ping ||
		hard_error "clamd did not answer PING within $CLAMD_LOAD_WAIT s: $(tail -n 5 "$CLAMD_DIR/clamd.log" 2>/dev/null)"
}

# clamd_mail_with_signature FILE - a MIME mail (CRLF) whose base64 attachment holds the signature
clamd_mail_with_signature() {
	{
		printf 'From: <alice@example.org>\r\nTo: <bob@example.com>\r\nSubject: invoice\r\n'
		printf 'Message-ID: <virus-1@test>\r\nMIME-Version: 1.0\r\n'
		printf 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
		printf -- '--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n'
		printf -- '--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n'
		printf 'Content-Disposition: attachment; filename="invoice.bin"\r\n\r\n'
		{ head -c 3000 /dev/zero | tr '\0' a; printf '%s' "$CLAMD_SIG"; head -c 3000 /dev/zero | tr '\0' b; } |
			base64 -w 76 | sed 's/$/\r/'
		printf -- '--b1--\r\n'
	} >"$1"
	if grep -q "$CLAMD_SIG" "$1"; then hard_error "the signature is in clear in the mail"; fi
}
